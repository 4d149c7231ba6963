<?php exit; /* DEFANGED TEST SAMPLE */
@eval(gzinflate(base64_decode('S03OyFdQSs7PS0nKBAA=')));
