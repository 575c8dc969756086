# Sourced by run_tests.sh and run_demo.sh: tox in a private virtualenv
# (.venv-tools), pinned by upper-constraints.txt, made on first use.
# Sets $TOX to the tox to run. Needs the caller's cwd at the project root.

tools=.venv-tools
python=${PYTHON:-python3}

if [ ! -x "$tools/bin/tox" ]; then
    if ! "$python" -m venv "$tools" 2>/dev/null; then
        # Debian ships venv separately.
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            apt-get update -qq && apt-get install -y -qq python3-venv
            rm -rf "$tools" && "$python" -m venv "$tools"
        else
            echo "'$python -m venv' failed; install python3-venv" >&2
            exit 1
        fi
    fi
    "$tools/bin/pip" install -q -c upper-constraints.txt tox
fi
TOX="$tools/bin/tox"
