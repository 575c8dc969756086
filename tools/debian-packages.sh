# Sourced by run_tests.sh and run_demo.sh.
# debian_packages SCRIPT COMMAND:PACKAGE... installs, as root with apt-get,
# the Debian package of each COMMAND not found (a COMMAND that is an
# absolute path is a file that must exist: firmware, say), and fetches
# apt's package lists when they are missing (a fresh machine or container
# has none, and the deploy ramdisk is built from packages apt-get
# downloads); anyone else is told what to install, and the script stops.

debian_packages() {
    local script=$1 missing=() entry
    shift
    for entry in "$@"; do
        case $entry in
            /*) [ -e "${entry%%:*}" ] || missing+=("${entry#*:}") ;;
            *) PATH=$PATH:/usr/sbin:/sbin command -v "${entry%%:*}" \
                   >/dev/null || missing+=("${entry#*:}") ;;
        esac
    done
    local lists=yes
    if command -v apt-cache >/dev/null \
            && ! apt-cache show linux-image-amd64 >/dev/null 2>&1; then
        lists=no
    fi
    [ ${#missing[@]} -eq 0 ] && [ $lists = yes ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq
        [ ${#missing[@]} -eq 0 ] && return 0
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    elif [ ${#missing[@]} -gt 0 ]; then
        echo "$script: install ${missing[*]} (Debian packages)" >&2
        exit 1
    else
        echo "$script: apt has no package lists; run apt-get update" >&2
        exit 1
    fi
}
