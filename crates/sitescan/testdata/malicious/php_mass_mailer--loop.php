<?php exit; /* DEFANGED TEST SAMPLE: mass mailer shape */
$emails = explode("\n", $_POST['emailList']);
foreach ($emails as $to) {
    mail(trim($to), $_POST['subject'], $_POST['body'], "From: " . $_POST['from']);
}
