# Flattens a JSON document into one "path<TAB>value" line per scalar, for the
# guest's init (busybox awk; the image has no JSON tool):
#   {"uuid": "u1", "public_keys": {"k": "ssh-ed25519 AAA... c\n"}, "a": [1]}
#   -> uuid<TAB>u1, public_keys/k<TAB>ssh-ed25519 AAA... c, a/0<TAB>1
# The values the init reads are single lines: escaped newlines, tabs and
# carriage returns become spaces (trailing ones are dropped), \uXXXX a "?".

{ text = text $0 "\n" }

END {
    pos = 1
    parse_value("")
}

function skip_space() {
    while (substr(text, pos, 1) ~ /[ \t\r\n]/)
        pos++
}

function parse_string(    out, c) {
    out = ""
    pos++  # the opening quote
    while ((c = substr(text, pos, 1)) != "\"" && c != "") {
        if (c == "\\") {
            c = substr(text, ++pos, 1)
            if (c == "n" || c == "t" || c == "r") c = " "
            else if (c == "b" || c == "f") c = ""
            else if (c == "u") { c = "?"; pos += 4 }
        }
        out = out c
        pos++
    }
    pos++  # the closing quote
    return out
}

function emit(path, value) {
    sub(/ +$/, "", value)
    print substr(path, 1, length(path) - 1) "\t" value
}

# path: the keys above this value, each followed by "/".
function parse_value(path,    c, kind, count) {
    skip_space()
    c = substr(text, pos, 1)
    if (c == "{" || c == "[") {
        kind = c
        pos++
        count = 0
        while (1) {
            skip_space()
            c = substr(text, pos, 1)
            if (c == "}" || c == "]" || c == "") { pos++; return }
            if (c == ",") { pos++; continue }
            if (kind == "[") {
                parse_value(path count++ "/")
                continue
            }
            c = parse_string()  # the key
            skip_space()
            pos++  # the colon
            parse_value(path c "/")
        }
    }
    if (c == "\"") {
        emit(path, parse_string())
        return
    }
    # A number, true, false or null: up to the next delimiter.
    c = pos
    while (substr(text, pos, 1) !~ /[],} \t\r\n]/ && pos <= length(text))
        pos++
    emit(path, substr(text, c, pos - c))
}
