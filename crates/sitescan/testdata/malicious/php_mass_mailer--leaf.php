<?php exit; /* DEFANGED TEST SAMPLE */
echo "<title>Leaf PHPMailer</title>";
