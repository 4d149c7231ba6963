/*
  unlisted's own rules for what hits shared hosting: PHP mailers, webshells,
  obfuscation chains, droppers, PHP hidden in images, .htaccess/.user.ini
  abuse, SEO spam and malicious cron lines. Written for this project.

  meta.severity: "malicious" (high confidence: act on it) or "suspicious"
  (a weak sign: look at it). meta.family groups rules for reports.
  Literal braces in regexes are escaped for yara-x.
*/

rule php_eval_of_decoded_payload {
  meta:
    family = "obfuscation"
    severity = "malicious"
    description = "eval/assert of a decoded payload (base64, gzinflate, str_rot13, hex)"
  strings:
    $r1 = /(eval|assert)\s*\(\s*(@\s*)?(base64_decode|gzinflate|gzuncompress|gzdecode|str_rot13|hex2bin|convert_uudecode)\s*\(/ nocase
    $r2 = /(eval|assert)\s*\(\s*(@\s*)?(gzinflate|gzuncompress|str_rot13)\s*\(\s*(base64_decode|str_rot13|gzinflate)\s*\(/ nocase
  condition:
    any of them
}

rule php_superglobal_code_execution {
  meta:
    family = "webshell"
    severity = "malicious"
    description = "runs code or commands taken straight from the request"
  strings:
    $exec = /(system|passthru|shell_exec|exec|popen|proc_open|pcntl_exec|eval|assert)\s*\(\s*(@\s*)?(stripslashes\s*\(\s*)?\$_(GET|POST|REQUEST|COOKIE|SERVER\s*\[\s*['"]HTTP_)/ nocase
    $varfunc = /\$_(GET|POST|REQUEST|COOKIE)\s*\[[^\]]{1,40}\]\s*\(\s*\$_(GET|POST|REQUEST|COOKIE)/ nocase
    // `...` runs a shell command; in doc comments backticks quote code,
    // so only an assignment, a call or an echo of one counts.
    $backtick = /(=|\(|echo|print)\s*`\s*\$_(GET|POST|REQUEST|COOKIE)\s*\[[^\]]{1,40}\]\s*`/
  condition:
    any of them
}

rule php_known_webshell_markers {
  meta:
    family = "webshell"
    severity = "malicious"
    description = "strings of well-known webshells and file managers (c99, r57, WSO/FilesMan, b374k, Alfa, weevely)"
  strings:
    $s1 = "c99shell" nocase
    $s2 = "r57shell" nocase
    $s3 = "FilesMan" fullword
    $s4 = "b374k" nocase
    $s5 = "AlfaTeam" nocase
    $s6 = "Alfa Shell" nocase
    $s7 = "WSOsetcookie"
    $s8 = "wso_version"
    $s9 = "IndoXploit" nocase
  condition:
    any of them
}

rule php_mass_mailer {
  meta:
    family = "mailer"
    severity = "malicious"
    description = "a mass mailer: sends mail in a loop to a list taken from the request"
  strings:
    $name1 = "Leaf PHPMailer" nocase
    $name2 = "Inbox Mass Mailer" nocase
    $name3 = "PRO Mailer V2" nocase
    $name4 = "Mailer Inbox Sender" nocase
    $list = /explode\s*\(\s*["']\\n["']\s*,\s*\$_(POST|GET|REQUEST)\s*\[/ nocase
    $mail = /\bmail\s*\(/ nocase
    $loop = /(foreach|for|while)\s*\(/ nocase
  condition:
    any of ($name*) or ($list and $mail and $loop)
}

rule php_uploader_dropper {
  meta:
    family = "dropper"
    severity = "malicious"
    description = "writes request data to a file or fetches remote code to disk"
  strings:
    $w1 = /file_put_contents\s*\([^;]{0,120}\$_(POST|GET|REQUEST|COOKIE)\s*\[/ nocase
    $w2 = /fwrite\s*\([^;]{0,60}base64_decode\s*\(\s*\$_(POST|GET|REQUEST)/ nocase
    $w3 = /file_put_contents\s*\([^;]{0,200}file_get_contents\s*\(\s*['"]https?:\/\/[^'"]{4,200}\.(txt|jpg|png|gif)['"]/ nocase
    $up = /move_uploaded_file\s*\(\s*\$_FILES\s*\[[^\]]+\]\s*\[\s*['"]tmp_name['"]\s*\]\s*,\s*\$_FILES\s*\[[^\]]+\]\s*\[\s*['"]name['"]\s*\]\s*\)/ nocase
    $tiny = "<?php" nocase
  condition:
    any of ($w*) or ($up and $tiny and filesize < 4KB)
}

rule php_chr_chain {
  meta:
    family = "obfuscation"
    severity = "suspicious"
    description = "a long chain of chr() calls building a string"
  strings:
    $c = /(chr\s*\(\s*\d{1,3}\s*\)\s*\.\s*){12,}/ nocase
  condition:
    $c
}

rule php_hidden_in_image {
  meta:
    family = "image"
    severity = "malicious"
    description = "an image file carrying PHP code"
  strings:
    $php = "<?php" nocase
    $exec = /(eval|assert|system|passthru|shell_exec|base64_decode)\s*\(/ nocase
  condition:
    (uint32be(0) == 0x89504E47 or uint16be(0) == 0xFFD8 or uint32be(0) == 0x47494638)
    and $php and $exec
}

rule htaccess_php_handler_for_images {
  meta:
    family = "htaccess"
    severity = "malicious"
    description = ".htaccess makes images or text files run as PHP"
  strings:
    $a = /AddType\s+application\/x-httpd-php[^\n]{0,40}\.(jpe?g|png|gif|ico|txt)/ nocase
    $b = /AddHandler\s+[^\n]{0,40}php[^\n]{0,40}\.(jpe?g|png|gif|ico|txt)/ nocase
    $c = /<Files(Match)?\s+[^>]{0,80}\.(jpe?g|png|gif|ico)[^>]{0,20}>\s*SetHandler\s+application\/x-httpd-php/ nocase
  condition:
    any of them
}

rule htaccess_or_userini_prepend {
  meta:
    family = "htaccess"
    severity = "suspicious"
    description = "auto_prepend_file/auto_append_file set from .htaccess or .user.ini"
  strings:
    $a = /php_value\s+auto_(prepend|append)_file\s+\S+/ nocase
    $b = /(^|\n)[ \t]*auto_(prepend|append)_file[ \t]*=[ \t]*\S+/ nocase
  condition:
    any of them
}

rule seo_spam_hidden_links {
  meta:
    family = "seo"
    severity = "suspicious"
    description = "hidden block of links to pharmacy, casino or loan sites"
  strings:
    $hide = /<div[^>]{0,60}(display\s*:\s*none|position\s*:\s*absolute\s*;\s*left\s*:\s*-\d{3,})/ nocase
    $spam = /(viagra|cialis|casino|payday\s+loan|replica\s+watches)/ nocase
  condition:
    $hide and #spam > 3
}

rule cron_download_and_run {
  meta:
    family = "cron"
    severity = "malicious"
    description = "a cron line that downloads code and runs it"
  strings:
    // The schedule and the command on one line: searching for a bare
    // schedule pattern has no literal to anchor on and made this rule
    // cost more than all the others together.
    $a = /(^|\n)[ \t]*(@[a-z]{4,8}|([0-9*,\/-]+[ \t]+){5})[^\n]{0,300}(wget|curl)\s+[^\n|;]{0,200}\|\s*(ba)?sh/ nocase
    $b = /(^|\n)[ \t]*(@[a-z]{4,8}|([0-9*,\/-]+[ \t]+){5})[^\n]{0,300}(wget|curl)\s+-[a-zA-Z]*[qsO]+[a-zA-Z]*\s+[^\n;]{0,200};\s*(ba)?sh\s/ nocase
    $c = /(^|\n)[ \t]*(@[a-z]{4,8}|([0-9*,\/-]+[ \t]+){5})[^\n]{0,300}base64\s+(-d|--decode)\s*\|\s*(ba)?sh/ nocase
  condition:
    any of them
}
