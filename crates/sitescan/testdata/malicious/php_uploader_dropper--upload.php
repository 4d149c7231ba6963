<?php exit; /* DEFANGED TEST SAMPLE: a bare uploader */
move_uploaded_file($_FILES['f']['tmp_name'], $_FILES['f']['name']);
