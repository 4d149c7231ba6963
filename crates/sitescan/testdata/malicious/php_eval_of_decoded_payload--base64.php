<?php exit; /* DEFANGED TEST SAMPLE for unlisted rule php_eval_of_decoded_payload */
eval(base64_decode('ZWNobyAidGVzdCI7'));
