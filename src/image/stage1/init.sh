#!/bin/sh
# drover stage 1 (two-stage boot, docs/booting.md). iPXE loaded only the kernel and this small initramfs.
# 1. mount proc/sys/dev; load the NIC drivers of the hardware present (modalias coldplug, two passes)
# 2. bring up the interface with the booting MAC: the address iPXE had (drover.ip/mask/gw), else udhcpc
# 3. check the RAM against what drover says the image needs (drover.need, MiB)
# 4. mount a tmpfs on /newroot and stream the image into it piece by piece, fetched by offset while the
#    previous piece unpacks. With the image's piece index (drover.index, src/image/build.ts) a piece is
#    whole zstd frames (gzip members) of whole cpio entries, checked against its sha256, decompressed to a
#    file and unpacked from it (no pipe); without one, fixed-size pieces (drover.chunk MiB) feed ONE
#    `gzip -d | cpio -i` (or zstd -d). A failed piece is fetched again (drover restarted: the stream goes
#    on where it was). No compressed copy of the image is kept (at most two pieces and one unpacked
#    piece), nothing limits the size to 4 GiB.
# 5. compare the sha256 of the stream (or the index's, whose pieces all matched) with drover.sha256; 6. unpack the system overlay on top
# 7. switch_root into the new root and run its /init (the wwinit overlay's, which sees a real root and
#    does not copy again).
# busybox 1.35: `wget -T` segfaults, so every wget runs under `timeout`; its wget refuses 206 answers, so
# pieces are asked for by query (?offset=&length=), not by Range.
PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PATH
/bin/busybox mkdir -p /proc /sys /dev /run /tmp /etc /newroot
/bin/busybox --install -s /bin 2>/dev/null
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs -o mode=0755 devtmpfs /dev 2>/dev/null

log() { echo "drover-stage1: $*"; }
uptime_cs() { read -r up _ </proc/uptime; echo $((${up%.*} * 100 + 1${up#*.} - 100)); }
arg() { # NAME → value of NAME= on the kernel line (no globbing: values hold ? and *)
	set -f
	for a in $(cat /proc/cmdline); do
		case "$a" in "$1="*) set +f; echo "${a#*=}"; return 0 ;; esac
	done
	set +f
	return 1
}
urlenc() { echo "$*" | sed 's/%/%25/g; s/ /%20/g; s/&/%26/g; s/?/%3F/g; s/#/%23/g; s/=/%3D/g; s/+/%2B/g; s/"/%22/g'; }

SERVER=$(arg drover.server)
Q=$(arg drover.q)
HEX=$(arg drover.mac)
MAC=$(arg wwid | tr 'A-F' 'a-f')
FORMAT=$(arg drover.format || echo gzip)
SIZE=$(arg drover.size || echo 0)
SHA=$(arg drover.sha256)
NEED=$(arg drover.need || echo 0)
CHUNK_MIB=$(arg drover.chunk || echo 32)
T0=$(uptime_cs)

report() { # STAGE DETAIL: best effort, never blocks the boot for long
	[ -n "$IFACE_UP" ] || return 0
	timeout 5 wget -q -O /dev/null "$SERVER/callback/$HEX?$Q&stage=$1&detail=$(urlenc "$2")" 2>/dev/null
	return 0
}
fail() { # MESSAGE: said on the console and to drover, then the node boots again (a fresh script)
	log "FAILED: $*"
	report error "stage 1: $*"
	log "rebooting in 30 seconds (drover.debug on the kernel line: a shell instead)"
	if arg drover.debug >/dev/null; then sh; fi
	sleep 30
	reboot -f
}

[ -n "$SERVER" ] && [ -n "$HEX" ] || { log "drover.server and drover.mac are missing from the kernel line: this initramfs is meant to be booted by drover's two-stage iPXE script"; sh; }
log "node $MAC, image $(($SIZE / 1048576)) MiB ($FORMAT) from $SERVER"

# ---- 1. drivers ----
for pass in 1 2; do
	for a in /sys/bus/*/devices/*/modalias; do
		[ -r "$a" ] && modprobe -q "$(cat "$a")" 2>/dev/null
	done
done

# ---- 2. network ----
IFACE=
n=0
while [ -z "$IFACE" ] && [ $n -lt 100 ]; do
	for d in /sys/class/net/*; do
		[ "$(cat "$d/address" 2>/dev/null)" = "$MAC" ] && IFACE=${d##*/}
	done
	[ -n "$IFACE" ] || { n=$((n + 1)); sleep 0.1; }
done
[ -n "$IFACE" ] || fail "no interface with the booting MAC $MAC (modules loaded: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')); is its driver in STAGE1_NIC_MODULES (src/image/stage1.ts)?"
ip link set lo up
ip link set dev "$IFACE" up
IP=$(arg drover.ip)
if [ -n "$IP" ]; then
	MASK=$(arg drover.mask)
	eval "$(ipcalc -p "$IP" "${MASK:-255.255.255.0}")"
	ip addr add "$IP/$PREFIX" dev "$IFACE"
	GW=$(arg drover.gw)
	[ -n "$GW" ] && ip route add default via "$GW" dev "$IFACE" 2>/dev/null
	log "$IFACE $IP/$PREFIX${GW:+ via $GW} (from iPXE)"
else
	udhcpc -i "$IFACE" -n -q -t 10 -s /stage1/udhcpc.script >/dev/null 2>&1 || fail "DHCP on $IFACE failed"
	IP=$(cat /run/stage1.ip)
	log "$IFACE $IP (DHCP)"
fi
IFACE_UP=1

# ---- 3. memory ----
# drover.need is in the terms of "RAM needed" and iPXE's ${memsize}: the machine's RAM. MemTotal is less by
# what the kernel keeps for itself (~4% at 5 GiB), so the kernel's own "Memory: AVAILK/TOTALK available"
# line gives the machine's figure; MemTotal when that line is gone from the log.
MEM=$(dmesg 2>/dev/null | sed -n 's/.*Memory: [0-9]*K\/\([0-9]*\)K available.*/\1/p' | head -1)
[ -n "$MEM" ] || MEM=$(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)
MEM=$((MEM / 1024))
if [ "$NEED" -gt 0 ] && [ "$MEM" -lt "$NEED" ]; then
	fail "this node has $MEM MiB of RAM but the image needs about $NEED MiB to unpack and run; give it more memory or use a smaller image"
fi

# ---- 4. stream ----
case "$FORMAT" in
zstd) DEC="zstd -d -c -q" ; command -v zstd >/dev/null || fail "the image is zstd but this stage 1 has no zstd (install zstd on the head node and rebuild the image)" ;;
*) DEC="gzip -d -c" ;;
esac
mount -t tmpfs -o mode=0755,size=$(arg drover.rootsize || echo 95%) tmpfs /newroot || fail "could not mount a tmpfs on /newroot"
URL="$SERVER/image/$HEX?$Q&format=$FORMAT"
CHUNK=$((CHUNK_MIB * 1048576))
fetch() { # OFFSET LENGTH FILE RATE [SHA256]
	rm -f "$3"
	timeout $((60 + $2 / 262144)) wget -q -O "$3" "$URL&offset=$1&length=$2&rate=$4" 2>/run/s1.wget.err || return 1
	[ "$(stat -c %s "$3")" = "$2" ] || return 1
	[ -z "$5" ] && return 0
	set -- "$@" "$(sha256sum "$3")"
	[ "${6%% *}" = "$5" ] && return 0
	echo "sha256 ${6%% *}, the index says $5" >/run/s1.wget.err
	return 1
}
getpiece() { # OFFSET LENGTH FILE RATE [SHA256]: retried until complete (10 minutes)
	TRY=0
	until fetch "$@"; do
		TRY=$((TRY + 1))
		[ $TRY -eq 1 ] && log "piece at $1: $(cat /run/s1.wget.err 2>/dev/null | head -1) - fetching it again"
		[ $TRY -gt 300 ] && fail "the image download stopped at $1 of $SIZE bytes and did not resume for 10 minutes ($(head -1 /run/s1.wget.err 2>/dev/null))"
		# Digests that keep differing: the image was rebuilt under this boot.
		[ -n "$5" ] && [ $TRY -gt 3 ] && grep -q "^sha256" /run/s1.wget.err && fail "piece at $1: $(head -1 /run/s1.wget.err): the image was rebuilt during the download or is damaged on the way"
		sleep $((TRY < 3 ? 1 : 2))
	done
	[ $TRY -gt 0 ] && log "piece at $1: resumed after $TRY retries"
	return 0
}
START=$(uptime_cs)
OFF=0
N=0
RATE=0
INDEXED=
if arg drover.index >/dev/null; then
	# The piece index (src/image/build.ts): pieces that are whole zstd frames (gzip members) of whole cpio
	# entries, each with its sha256. Each piece is decompressed to a file and unpacked from that file by
	# its own cpio: no pipe between the decompressor and cpio (under emulation, on one vCPU, their pipe
	# hand-overs cost more than both programs), and a piece needs no TRAILER!!! (busybox cpio ends at EOF).
	n=0
	until timeout 30 wget -q -O /run/s1.index "$URL&pieces=1" 2>/run/s1.wget.err; do
		n=$((n + 1))
		[ $n -gt 300 ] && fail "the piece index could not be fetched: $(head -1 /run/s1.wget.err)"
		sleep 2
	done
	read -r MAGIC IFMT ISIZE ISHA </run/s1.index
	[ "$MAGIC" = drover-pieces ] && [ "$IFMT" = "$FORMAT" ] && [ "$ISIZE" = "$SIZE" ] || fail "the piece index is not one of this $FORMAT image of $SIZE bytes: $MAGIC $IFMT $ISIZE"
	[ -z "$SHA" ] || [ "$ISHA" = "$SHA" ] || fail "the piece index is of an image with sha256 $ISHA, drover said $SHA: it was rebuilt during the boot"
	INDEXED=1
fi
if [ -n "$INDEXED" ]; then
	unpack() { # PIECE-FILE [UNPACKED]: decompressed to a file, then unpacked from it (no pipe); times to /run/s1.times
		u0=$(uptime_cs)
		if [ $((${2:-0} > PIPE_FROM)) = 1 ]; then
			# A large piece (a big file is one entry, so one piece): through a pipe, so the tmpfs never
			# holds its decompressed copy beside the tree (the RAM model counts on that).
			( $DEC "$1" 2>/run/s1.dec.err | (cd /newroot && cpio -i -m 2>/run/s1.cpio.err) ) || return 1
			[ -s /run/s1.dec.err ] && { echo "$DEC: $(tail -1 /run/s1.dec.err)" >/run/s1.cpio.err; return 1; }
			rm -f "$1"
			echo "0 $(($(uptime_cs) - u0))" >>/run/s1.times
			return 0
		fi
		$DEC "$1" >/run/s1.cpio 2>/run/s1.cpio.err || { echo "$DEC: $(tail -1 /run/s1.cpio.err)" >/run/s1.cpio.err; return 1; }
		rm -f "$1"
		u1=$(uptime_cs)
		(cd /newroot && cpio -i -m </run/s1.cpio 2>/run/s1.cpio.err) || return 1
		rm -f /run/s1.cpio
		echo "$((u1 - u0)) $(($(uptime_cs) - u1))" >>/run/s1.times
	}
	# Pieces of more than this many unpacked bytes go through a pipe (src/image/build.ts cuts ~64 MiB pieces;
	# only a file larger than that makes one bigger).
	PIPE_FROM=100663296
	FETCHCS=0
	WAITCS=0
	UNPID=
	exec 4</run/s1.index
	read -r _ <&4
	while read -r POFF PLEN PSHA PUNP <&4; do
		[ "$POFF" = "$OFF" ] || fail "the piece index is damaged: a piece at $POFF after $OFF bytes"
		F=/run/s1.piece.$((N % 2))
		t=$(uptime_cs)
		getpiece "$OFF" "$PLEN" "$F" "$RATE" "$PSHA"
		t1=$(uptime_cs)
		FETCHCS=$((FETCHCS + t1 - t))
		if [ -n "$UNPID" ]; then wait "$UNPID" || fail "unpacking the image failed: $(tail -1 /run/s1.cpio.err 2>/dev/null) (damaged archive or out of memory? the tmpfs holds $(df -m /newroot | awk 'NR==2{print $3}') MiB)"; fi
		WAITCS=$((WAITCS + $(uptime_cs) - t1))
		unpack "$F" "$PUNP" &
		UNPID=$!
		OFF=$((OFF + PLEN))
		N=$((N + 1))
		EL=$(($(uptime_cs) - START))
		RATE=$((OFF / 1024 * 100 / (EL > 0 ? EL : 1)))
		log "$((OFF / 1048576)) of $((SIZE / 1048576)) MiB, $((RATE / 1024)) MiB/s"
	done
	exec 4<&-
	[ -n "$UNPID" ] && { wait "$UNPID" || fail "unpacking the image failed: $(tail -1 /run/s1.cpio.err 2>/dev/null) (damaged archive or out of memory? the tmpfs holds $(df -m /newroot | awk 'NR==2{print $3}') MiB)"; }
	[ "$OFF" = "$SIZE" ] || fail "the piece index covers $OFF of $SIZE bytes"
	# Every piece matched its digest in the index, and the index is the one of the stream drover.sha256 names.
	GOT=$ISHA
	# Where the time went (the unpack of a piece overlaps the download and sha256 of the next one).
	TIMES=$(awk -v f="$FETCHCS" -v w="$WAITCS" '{ d += $1; c += $2 } END { printf "decompress %.1f s, cpio %.1f s, download+sha256 %.1f s, waiting for the unpack %.1f s", d / 100, c / 100, f / 100, w / 100 }' /run/s1.times)
else
	# No piece index (an image built before it existed): fixed-size pieces, one decompressor pipe.
	CHUNK=$((CHUNK_MIB * 1048576))
	mkfifo /run/s1.data /run/s1.sum
	sha256sum </run/s1.sum >/run/s1.sha &
	SUMPID=$!
	(
		set -o pipefail
		# No -d or -u: drover's archive lists every directory before its contents and the tmpfs is empty, and
		# under emulation the 80,000 mkdir/stat calls of -d cost seconds.
		tee /run/s1.sum </run/s1.data | $DEC | (cd /newroot && cpio -i -m 2>/run/s1.cpio.err)
		echo $? >/run/s1.rc
	) &
	UNPID=$!
	exec 3>/run/s1.data
	CATPID=
	while [ "$OFF" -lt "$SIZE" ]; do
		LEN=$CHUNK
		[ $((OFF + LEN)) -gt "$SIZE" ] && LEN=$((SIZE - OFF))
		F=/run/s1.piece.$((N % 2))
		getpiece "$OFF" "$LEN" "$F" "$RATE"
		if [ -n "$CATPID" ]; then wait "$CATPID" || fail "unpacking the image failed: $(cat /run/s1.cpio.err 2>/dev/null | tail -1) (damaged archive or out of memory?)"; fi
		(cat "$F" >&3 && rm -f "$F") &
		CATPID=$!
		OFF=$((OFF + LEN))
		N=$((N + 1))
		EL=$(($(uptime_cs) - START))
		RATE=$((OFF / 1024 * 100 / (EL > 0 ? EL : 1)))
		log "$((OFF / 1048576)) of $((SIZE / 1048576)) MiB, $((RATE / 1024)) MiB/s"
	done
	[ -n "$CATPID" ] && { wait "$CATPID" || fail "unpacking the image failed: $(tail -1 /run/s1.cpio.err 2>/dev/null)"; }
	exec 3>&-
	wait "$UNPID"
	wait "$SUMPID"
	RC=$(cat /run/s1.rc 2>/dev/null || echo 1)
	[ "$RC" = 0 ] || fail "unpacking the image failed (status $RC): $(tail -1 /run/s1.cpio.err 2>/dev/null) (out of memory? the tmpfs holds $(df -m /newroot | awk 'NR==2{print $3}') MiB)"
	GOT=$(cut -d' ' -f1 /run/s1.sha)
	rm -f /run/s1.data /run/s1.sum
fi
EL=$(($(uptime_cs) - START))
if [ -n "$SHA" ] && [ "$GOT" != "$SHA" ]; then
	fail "the image's sha256 is $GOT, drover said $SHA: it was rebuilt during the download or damaged on the way"
fi
RATE=$((SIZE / 1024 * 100 / (EL > 0 ? EL : 1)))
log "image in place: $((SIZE / 1048576)) MiB in $((EL / 100)).$((EL % 100 / 10)) s ($((RATE / 1024)) MiB/s), sha256 ${SHA:+ok}${INDEXED:+ ($N pieces: $TIMES)}"

if arg drover.bench >/dev/null; then # what each step of the stream costs on this node's CPU (docs/booting.md)
	b() { t=$(uptime_cs); eval "$1" >/dev/null 2>&1; log "bench: $1: $(($(uptime_cs) - t))0 ms"; }
	b "timeout 60 wget -q -O /run/b.z '$URL&offset=0&length=33554432'"
	b "sha256sum /run/b.z"
	b "$DEC /run/b.z >/dev/null"
	b "$DEC /run/b.z >/run/b.cpio"
	mkdir -p /run/bx1 /run/bx2
	b "cd /run/bx1 && cpio -i -m </run/b.cpio; cd /"
	b "cat /run/b.z | $DEC | (cd /run/bx2 && cpio -i -m); cd /"
	log "bench: $(stat -c %s /run/b.cpio) bytes of cpio, $(find /run/bx1 | wc -l) entries"
	rm -rf /run/b.* /run/bx1 /run/bx2
fi
# ---- 6. system overlay ----
if [ "$(arg drover.system)" = 1 ]; then
	TRY=0
	until timeout 60 wget -q -O /run/s1.system "$SERVER/system/$HEX?$Q&streamed=$SIZE&secs=$((EL / 100)).$((EL % 100 / 10))&rate=$RATE" 2>/run/s1.wget.err; do
		TRY=$((TRY + 1))
		[ $TRY -gt 60 ] && fail "the system overlay could not be fetched: $(head -1 /run/s1.wget.err)"
		sleep 2
	done
	(cd /newroot && gzip -d -c /run/s1.system | cpio -i -d -m -u 2>/dev/null) || fail "the system overlay did not unpack"
	rm -f /run/s1.system
fi

# ---- 7. switch_root ----
INIT=$(arg drover.init)
[ -n "$INIT" ] || for i in /init /sbin/init /lib/systemd/systemd; do [ -x "/newroot$i" ] || [ -L "/newroot$i" ] && { INIT=$i; break; }; done
mkdir -p /newroot/drover
echo "DROVER_STAGE1_SECONDS=$((EL / 100)).$((EL % 100 / 10))" >/newroot/drover/stage1.env
echo "DROVER_STAGE1_TOTAL=$((($(uptime_cs) - T0) / 100))" >>/newroot/drover/stage1.env
log "switch_root to $INIT ($((($(uptime_cs) - T0) / 100)) s in stage 1)"
for m in /proc /sys /dev; do
	mkdir -p "/newroot$m"
	mount --move "$m" "/newroot$m" 2>/dev/null || mount -o move "$m" "/newroot$m"
done
exec switch_root /newroot "$INIT"
echo "drover-stage1: switch_root failed"
exec sh
