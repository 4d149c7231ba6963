<?php exit; /* DEFANGED TEST SAMPLE: the marker of a WSO-style file manager */
$default_action = 'FilesMan';
