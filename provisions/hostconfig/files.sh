# File writes for host scripts, included (by the portal) where a script keeps state in files.

one_replace_file() {
    # $1 file, $2 its wanted content (a newline is added): written (to a temporary file renamed
    # into place, so a reader never sees half of it) only where it differs; compared by bash,
    # as `$(<)` drops trailing newlines on both sides alike. Returns 0 when it wrote, 1 when
    # the file was already so.
    local OLD=""
    [ -f "$1" ] && OLD=$(< "$1")
    [ "$OLD" != "$2" ] || return 1
    printf '%s\n' "$2" > "$1.new"
    mv "$1.new" "$1"
}
