<?php exit; /* DEFANGED TEST SAMPLE */
$f = chr(115).chr(121).chr(115).chr(116).chr(101).chr(109).chr(32).chr(108).chr(115).chr(32).chr(45).chr(108).chr(97);
