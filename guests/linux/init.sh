#!/bin/busybox sh
# /init of Tessera's Linux test guest (packed into target/guests/<arch>/linux/initramfs.cpio
# by `cargo xtask guest fetch linux`). Plain POSIX sh for busybox ash.
#
# Prints a banner with fixed markers. With the word `tessera.check` on the kernel command
# line it runs a scripted check (CPUs, timer and IPI interrupts rising, passthrough
# device nodes named by `tessera.devnode=<node>`, a passthrough RTC's time and alarm
# interrupt with `tessera.rtc-alarm`, `tessera.messages=<count>` messages exchanged with
# the other VMs of a shared region through busybox devmem) and powers off;
# otherwise it starts a shell on the console.

/bin/busybox mkdir -p /proc /sys /dev /tmp /bin /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

# Prints the number of CPUs listed in a CPU list such as `0-1,3` (from stdin).
count_cpu_list() {
    awk -F, '{
        for (i = 1; i <= NF; i++) {
            if (split($i, r, "-") == 2) n += r[2] - r[1] + 1
            else if ($i != "") n++
        }
    } END { print n + 0 }'
}

# Prints "<timer> <ipi>": the timer's interrupts (arm64 `arch_timer`, riscv
# `riscv-timer`, a PC's PIT on IRQ 0 `timer` and its local APIC timers `LOC`) and all
# IPIs of /proc/interrupts text (from stdin: arm64 and riscv `IPI<n>`, a PC's
# rescheduling, function call and TLB shootdown IPIs `RES`, `CAL`, `TLB`), each
# summed over every CPU column.
irq_counts() {
    awk 'NR == 1 { ncpu = NF; next }
        $NF == "arch_timer" || $NF == "riscv-timer" || $NF == "timer" || $1 == "LOC:" ||
        $1 ~ /^IPI/ || $1 == "RES:" || $1 == "CAL:" || $1 == "TLB:" {
            s = 0
            for (i = 2; i <= ncpu + 1 && i <= NF; i++)
                if ($i ~ /^[0-9]+$/) s += $i
            if ($1 ~ /^IPI/ || $1 == "RES:" || $1 == "CAL:" || $1 == "TLB:") ipi += s
            else timer += s
        }
        END { printf "%d %d\n", timer, ipi }'
}

# Prints "ok" when $2 > $1, else "FAILED".
rising() {
    if [ "$2" -gt "$1" ]; then echo ok; else echo FAILED; fi
}

# Prints the RTC's interrupt count summed over every CPU (nothing when it has no line).
rtc_irqs() {
    awk '/rtc/ { s = 0; for (i = 2; i <= NF; i++) if ($i ~ /^[0-9]+$/) s += $i; else break; print s }' /proc/interrupts
}

# Word $2 of message $1 of the shared-region message protocol (the test guest's
# `messages` module): n * 0x01000193 xor i * 0x9e3779b9, 32 bits.
message_word() {
    echo $(( (($1 * 0x01000193) ^ ($2 * 0x9e3779b9)) & 0xffffffff ))
}

# The 32-bit value at physical address $1.
peek() {
    echo $(( $(devmem "$1" 32) ))
}

# Writes message $2 of $3 words, inverted when $4 is 1, to the mailbox at $1: words,
# count, then the sequence number.
post_message() {
    i=0
    while [ "$i" -lt "$3" ]; do
        w=$(message_word "$2" "$i")
        [ "$4" = 1 ] && w=$(( ~w & 0xffffffff ))
        devmem $(( $1 + 8 + 4 * i )) 32 "$w"
        i=$(( i + 1 ))
    done
    devmem $(( $1 + 4 )) 32 "$3"
    devmem "$1" 32 "$2"
}

# Whether the mailbox at $1 holds message $2 (inverted when $3 is 1) whole: its word
# count on success.
check_message() {
    [ "$(peek "$1")" -eq "$2" ] || return 1
    count=$(peek $(( $1 + 4 )))
    [ "$count" -ge 1 ] && [ "$count" -le 62 ] || return 1
    i=0
    while [ "$i" -lt "$count" ]; do
        w=$(message_word "$2" "$i")
        [ "$3" = 1 ] && w=$(( ~w & 0xffffffff ))
        [ "$(peek $(( $1 + 8 + 4 * i )))" -eq "$w" ] || return 1
        i=$(( i + 1 ))
    done
    echo "$count"
}

# Waits (polling, 10 ms apart, at most 30 s) until the mailbox at $1 has sequence
# number $2 or more.
await_message() {
    tries=0
    while [ "$(peek "$1")" -lt "$2" ]; do
        tries=$(( tries + 1 ))
        [ "$tries" -gt 3000 ] && return 1
        usleep 10000
    done
}

# Exchanges $1 messages through the first shared region of the device tree, as the
# member its doorbell names: member 0 sends (4 words each) and checks the answers,
# the others answer. Prints the verdict.
exchange_messages() {
    node=$(ls -d /proc/device-tree/shared-region@* 2>/dev/null | head -n 1)
    if [ -z "$node" ]; then
        echo "tessera-linux: messages FAILED (no shared region in the device tree)"
        return
    fi
    name=$(tr -d '\000' < "$node/label")
    reg=$(od -An -v -tx1 "$node/reg" | tr -d ' \n')
    base=$(( 0x${reg:0:16} ))
    bell=$(( 0x${reg:32:16} ))
    member=$(peek $(( bell + 4 )))
    members=$(peek $(( bell + 8 )))
    first=$base
    mine=$(( base + member * 0x100 ))
    n=1
    while [ "$n" -le "$1" ]; do
        if [ "$member" -eq 0 ]; then
            post_message "$mine" "$n" 4 0
            devmem $(( bell + 0xc )) 32 0xfffffffe
            peer=$(( base + 0x100 ))
            if ! await_message "$peer" "$n" || [ "$(check_message "$peer" "$n" 1)" != 4 ]; then
                echo "tessera-linux: messages FAILED (answer $n)"
                return
            fi
        else
            if ! await_message "$first" "$n" || ! count=$(check_message "$first" "$n" 0); then
                echo "tessera-linux: messages FAILED (message $n)"
                return
            fi
            post_message "$mine" "$n" "$count" 1
            devmem $(( bell + 0xc )) 32 1
        fi
        n=$(( n + 1 ))
    done
    echo "tessera-linux: messages ok ($1 through \`$name\`, member $member of $members)"
}

# Keeps forking short-lived processes until killed: wake-ups across CPUs (IPIs).
load() {
    while :; do
        /bin/busybox true
    done
}

if [ -r /sys/devices/system/cpu/online ]; then
    cpus=$(count_cpu_list < /sys/devices/system/cpu/online)
else
    cpus=$(nproc)
fi
echo "tessera-linux: uname $(uname -a)"
echo "tessera-linux: online cpus $cpus"

case " $(cat /proc/cmdline) " in
*" tessera.check "*)
    echo "tessera-linux: processors $(grep -c '^processor' /proc/cpuinfo)"
    set -- $(irq_counts < /proc/interrupts)
    timer_before=$1 ipi_before=$2
    load &
    load1=$!
    load &
    load2=$!
    sleep 1
    set -- $(irq_counts < /proc/interrupts)
    timer_after=$1 ipi_after=$2
    kill "$load1" "$load2" 2>/dev/null
    wait
    echo "tessera-linux: timer interrupts $timer_before -> $timer_after"
    echo "tessera-linux: ipi interrupts $ipi_before -> $ipi_after"
    echo "tessera-linux: timer rising $(rising "$timer_before" "$timer_after")"
    if [ "$cpus" -gt 1 ]; then
        echo "tessera-linux: ipi rising $(rising "$ipi_before" "$ipi_after")"
    else
        echo "tessera-linux: ipi rising skipped (one cpu)"
    fi
    # tessera.devnode=<node>: a passthrough device's node is in the device tree.
    for word in $(cat /proc/cmdline); do
        case "$word" in
        tessera.devnode=*)
            node=${word#tessera.devnode=}
            if [ -d "/proc/device-tree/$node" ]; then
                echo "tessera-linux: device tree node $node ok"
            else
                echo "tessera-linux: device tree node $node FAILED"
            fi
            ;;
        tessera.messages=*)
            exchange_messages "${word#tessera.messages=}"
            ;;
        tessera.rtc-alarm)
            # The RTC's time, read from the device by its driver, then an alarm one
            # second ahead: its interrupt must reach this VM.
            now=$(cat /sys/class/rtc/rtc0/since_epoch 2>/dev/null)
            echo "tessera-linux: rtc time ${now:-none}"
            if [ "${now:-0}" -gt 1000000000 ]; then
                echo "tessera-linux: passthrough read ok"
            else
                echo "tessera-linux: passthrough read FAILED"
            fi
            before=$(rtc_irqs)
            echo 0 > /sys/class/rtc/rtc0/wakealarm
            echo +1 > /sys/class/rtc/rtc0/wakealarm
            sleep 2
            after=$(rtc_irqs)
            echo "tessera-linux: rtc interrupts ${before:-none} -> ${after:-none}"
            echo "tessera-linux: passthrough interrupt $(rising "${before:-0}" "${after:-0}")"
            ;;
        esac
    done
    echo "tessera-linux: check done"
    poweroff -f
    ;;
*)
    echo "tessera-linux: shell ready"
    exec setsid cttyhack sh
    ;;
esac
