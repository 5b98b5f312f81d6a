# Step markers with their durations, included (by the portal) into host scripts that report
# where their time goes. `step NAME [details]` prints "STEP NAME [details]"; `steps_done` ends
# the last step and prints one "TIMES NAME=MS ..." line (milliseconds of wall time on the host,
# from bash's own clock: no process per measurement), which the portal keeps in the log.
ONE_STEP=""
ONE_STEP_AT=${EPOCHREALTIME/./}
ONE_TIMES=""

one_step_end() {
    local NOW=${EPOCHREALTIME/./}
    [ -z "$ONE_STEP" ] || ONE_TIMES+=" $ONE_STEP=$(( (NOW - ONE_STEP_AT) / 1000 ))"
    ONE_STEP_AT=$NOW
}

step() {
    one_step_end
    ONE_STEP="${1%% *}"
    echo "STEP $*"
}

steps_done() {
    one_step_end
    ONE_STEP=""
    echo "TIMES${ONE_TIMES}"
}
