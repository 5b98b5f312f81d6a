# File reads and writes for host scripts, included (by the portal) where a script reads files
# or keeps state in them.

one_read_whole() {
    # $1 a file: all of it into ONE_TEXT ("" if it cannot be read), read in blocks to its end.
    # A `while read` loop costs more on a /proc file: bash reads a block, then seeks back to
    # the line's end, and each seek makes the kernel generate the file anew.
    ONE_TEXT=""
    { IFS= read -r -d '' ONE_TEXT < "$1"; } 2>/dev/null || true
}

one_read_cached() {
    # $1 a file kept beside the state, $2 the binary it was learned from: its first line into
    # ONE_CACHED, or nothing where the file is missing or older than the binary (an upgrade).
    ONE_CACHED=""
    if [ -f "$1" ] && [ ! "$2" -nt "$1" ]; then
        read -r ONE_CACHED < "$1" || true
    fi
}

one_replace_file() {
    # $1 file, $2 its wanted content (a newline is added): written only where it differs, to a
    # temporary file renamed into place so that a reader never sees half of it; a file not
    # there yet is written where it goes (nothing reads it before this script has made it, and
    # a first configuration pays no mv per file). Compared by bash, as `$(<)` drops trailing
    # newlines on both sides alike. Returns 0 when it wrote, 1 when the file was already so.
    local OLD=""
    if [ ! -f "$1" ]; then
        printf '%s\n' "$2" > "$1"
        return 0
    fi
    OLD=$(< "$1")
    [ "$OLD" != "$2" ] || return 1
    printf '%s\n' "$2" > "$1.new"
    mv "$1.new" "$1"
}
