# shellcheck shell=bash
# Compressed input (issue 9): gzip (also several members, as `cat a.gz b.gz` makes) and zstd (several
# frames, a skippable one), detected by the first bytes on files and on stdin whatever the name;
# the records are those of the plain file, with the same line numbers in error records. A
# truncated or corrupt stream is exit 3 with a message naming the file and the compressed offset,
# after every whole record before it was written and counted. Real Zeek logs read as .json.gz.

# same_as_plain NAME PLAIN-FILE COMPRESSED-FILE [PPIPE-OPTIONS...]: output, error records and exit
# code of ppipe on the compressed file equal those on the plain one (source names aside), by path
# and on stdin.
same_as_plain() {
  local name=$1 plain=$2 comp=$3; shift 3
  local msg=() rc1=0 rc2=0 rc3=0
  "$PPIPE" "$@" --errors want.err "$plain" > want.out || rc1=$?
  "$PPIPE" "$@" --errors got.err "$comp" > got.out || rc2=$?
  "$PPIPE" "$@" --errors stdin.err < "$comp" > stdin.out || rc3=$?
  [ "$rc1" = "$rc2" ] && [ "$rc1" = "$rc3" ] || msg+=("exit codes: plain $rc1, by path $rc2, on stdin $rc3")
  cmp -s want.out got.out || msg+=("output by path differs:" "$(short_diff want.out got.out)")
  cmp -s want.out stdin.out || msg+=("output on stdin differs:" "$(short_diff want.out stdin.out)")
  jq -c 'del(.source)' want.err > want.e 2>/dev/null
  jq -c 'del(.source)' got.err > got.e 2>/dev/null
  cmp -s want.e got.e || msg+=("error records differ:" "$(short_diff want.e got.e)")
  [ -s want.out ] || msg+=("no output at all")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}

t_compressed_inputs() {
  local f; f=$(gen_file g5 --seed 7 --size 5M --bad-every 50 --crlf-every 10 --stats) || { not_ok compressed "ppipe-gen failed"; return; }
  gzip -c "$f" > g.gz
  zstd -q -c "$f" > g.zst
  # Several members / frames, cut at arbitrary bytes of the plain file.
  head -c 1234567 "$f" > part1; tail -c +1234568 "$f" > part2
  { gzip -c part1; gzip -1 -c part2; } > multi.gz
  { zstd -q -c part1; printf '\x50\x2a\x4d\x18\x04\x00\x00\x00skip'; zstd -q -c part2; } > multi.zst
  same_as_plain "gzip by path and on stdin = the plain file (bad lines, CRLF, line numbers; -j 2, 64K batches)" \
    "$f" g.gz -j 2 --batch-size 64K --stages parse
  same_as_plain "zstd by path and on stdin = the plain file" "$f" g.zst -j 2 --batch-size 64K --stages parse
  same_as_plain "multi-member gzip (cut mid-record) = the plain file" "$f" multi.gz -j 2 --stages parse
  same_as_plain "multi-frame zstd with a skippable frame = the plain file" "$f" multi.zst -j 2 --stages parse
  cp g.gz named.json
  same_as_plain "a gzip named .json is read as gzip (magic bytes, not the name)" "$f" named.json --stages parse,filter --filter '.status >= 500'
  printf '' | gzip -c > empty.gz
  # compressed_bytes_in: the file's bytes, also when they give no text (a gzip member of nothing).
  local size; size=$(wc -c < empty.gz)
  local out; out=$("$PPIPE" --stats empty.gz 2>&1 >/dev/null | jq -c '[.records_in, .records_out, .compressed_bytes_in]')
  if [ "$out" = "[0,0,$size]" ]; then ok "gzip of nothing: no records, exit 0, compressed_bytes_in $size"
  else not_ok "gzip of nothing" "stats [records_in, records_out, compressed_bytes_in]: $out; expected [0,0,$size]"; fi
  size=$(wc -c < g.gz)
  out=$("$PPIPE" --stats --errors /dev/null g.gz 2>&1 >/dev/null | jq -c '.compressed_bytes_in')
  if [ "$out" = "$size" ]; then ok "compressed_bytes_in is the gzip file's size"
  else not_ok "compressed_bytes_in of g.gz" "got $out, the file has $size bytes"; fi
}
register t_compressed_inputs

# A stream cut or damaged: exit 3, the message names the file and an offset, the records before
# are all written (those zcat/zstd -dc produce before failing, as whole lines).
t_compressed_damaged() {
  local f; f=$(gen_file g5 --seed 7 --size 5M --bad-every 50 --crlf-every 10 --stats) || { not_ok compressed_damaged "ppipe-gen failed"; return; }
  local z
  for z in gz zst; do
    if [ $z = gz ]; then gzip -c "$f" > full.$z; else zstd -q -c "$f" > full.$z; fi
    head -c $(( $(stat -c %s full.$z) / 2 )) full.$z > cut.$z
    local rc=0 msg=()
    "$PPIPE" -j 2 --batch-size 64K --stages parse --stats --errors cut.err cut.$z > cut.out 2> cut.stderr || rc=$?
    [ "$rc" = 3 ] || msg+=("exit $rc, expected 3")
    grep -qE "read error on 'cut\.$z': truncated (gzip|zstd) data: the stream ends inside a (member|frame) \(compressed byte [0-9]+\)" cut.stderr ||
      msg+=("message: $(grep -v records_in cut.stderr | head -c 300)")
    # What the reference decompressor gives before failing, whole lines only, through ppipe.
    if [ $z = gz ]; then zcat cut.$z 2>/dev/null > ref.jsonl; else zstd -dc cut.$z 2>/dev/null > ref.jsonl; fi
    local whole; whole=$(wc -l < ref.jsonl)
    head -n "$whole" ref.jsonl > ref-whole.jsonl
    "$PPIPE" -j 2 --stages parse --stats --errors /dev/null ref-whole.jsonl > ref.out 2> ref.stderr || true
    cmp -s ref.out cut.out || msg+=("records before the damage differ from the reference's:" "$(short_diff ref.out cut.out)")
    # Counts reconcile; the partial last line is one more record, an error record with its text.
    local n; n=$(stats_of ref.stderr '.records_in + 1')
    local st; st=$(stats_of cut.stderr '[.records_in, .records_out + .dropped + .errors, .stopped_by]')
    [ "$st" = "[$n,$n,\"io_error\"]" ] || msg+=("stats [in, out+dropped+errors, stopped_by] = $st; expected $n records")
    [ "$(tail -n 1 cut.err | jq -r .line)" = $((whole + 1)) ] || msg+=("last error record: $(tail -n 1 cut.err | head -c 200)")
    if [ ${#msg[@]} -eq 0 ]; then ok "truncated $z: exit 3 naming file and offset, every whole record before written"; else not_ok "truncated $z" "${msg[@]}"; fi
  done
  # A flipped byte in the middle: gzip's checksum (or a bad block) catches it; never a crash.
  python3 -c "
import sys
b = bytearray(open('full.gz', 'rb').read()); b[len(b) // 2] ^= 0x55; open('bad.gz', 'wb').write(b)"
  local rc=0
  "$PPIPE" --stages parse --errors /dev/null bad.gz > /dev/null 2> bad.stderr || rc=$?
  if [ "$rc" = 3 ] && grep -qE "read error on 'bad\.gz': corrupt gzip data near compressed byte [0-9]+: " bad.stderr; then
    ok "corrupt gzip: exit 3, 'corrupt gzip data near compressed byte N: why'"
  else
    not_ok "corrupt gzip" "exit $rc" "$(head -c 300 bad.stderr)"
  fi
  # Data after the last member that is not gzip.
  { cat full.gz; echo '{"a":1}'; } > trailing.gz
  rc=0
  "$PPIPE" --stages parse trailing.gz > trailing.out 2> trailing.stderr || rc=$?
  if [ "$rc" = 3 ] && grep -qE "not gzip data after the end of a gzip member \(compressed byte $(stat -c %s full.gz)\)" trailing.stderr &&
     [ "$(wc -l < trailing.out)" -gt 0 ]; then
    ok "gzip followed by plain bytes: exit 3 at the exact offset, the gzip's records written"
  else
    not_ok "gzip with trailing plain bytes" "exit $rc" "$(head -c 300 trailing.stderr)"
  fi
}
register t_compressed_damaged

# A damaged stream gives every whole line before the damage, whatever --batch-size and --workers:
# a wrong checksum in a gzip trailer or a zstd frame (all the data is there: all of it), a stream
# cut short (what the reference decoder gives), a small file of two records. (Before: what the decompressor
# had written in the call that failed was dropped, and a truncated gzip lost the output the
# inflater still held; how much depended on the room the batch had, so on --batch-size and on
# which batch buffer was used again: 1,034 to 1,151 records of the same file from run to run.)
t_compressed_damaged_any_batch() {
  local f; f=$(gen_file damaged-2m --seed 3 --size 2M --stats) || { not_ok compressed_damaged_any_batch "ppipe-gen failed"; return; }
  gzip -c "$f" > d.gz
  zstd -q --check -c "$f" > d.zst
  printf '{"a":1}\n{"a":2}\n' | gzip -c > small.gz
  printf '{"a":1}\n{"a":2}\n' | zstd -q --check -c > small.zst
  # Very compressible: the last block is a full 128 KiB of output, more than a small batch's room,
  # so the checksum comes while that block is still being written out (the output still waiting
  # then was lost: 4,939 records at --batch-size 64K, 1 at 4K).
  seq 1 200000 | sed 's/.*/{"n":&}/' > seq.jsonl
  zstd -q --check -c seq.jsonl > seq.zst
  python3 -c "
def flip(src, dst, at):
    b = bytearray(open(src, 'rb').read()); b[at] ^= 1; open(dst, 'wb').write(b)
flip('d.gz', 'crc.gz', -6)          # the gzip trailer's CRC-32
flip('d.zst', 'sum.zst', -2)        # the zstd frame's content checksum
flip('small.gz', 'small-crc.gz', -6)
flip('small.zst', 'small-sum.zst', -2)
flip('seq.zst', 'seq-sum.zst', -1)"
  head -c $(( $(stat -c %s d.gz) * 3 / 5 )) d.gz > cut.gz
  head -c $(( $(stat -c %s d.zst) * 3 / 5 )) d.zst > cut.zst
  local z msg=() bs j rc whole errs
  printf '{"a":1}\n{"a":2}\n' > small.jsonl
  for z in crc.gz sum.zst small-crc.gz small-sum.zst seq-sum.zst cut.gz cut.zst; do
    # The reference: a wrong checksum damages no data, so all of it (zstd -dc itself loses the
    # end of the last block there); a stream cut short, what the reference decoder gives.
    case $z in
      small-*) cp small.jsonl ref ;;
      crc.gz | sum.zst) cp "$f" ref ;;
      seq-sum.zst) cp seq.jsonl ref ;;
      *.gz) zcat "$z" 2>/dev/null > ref ;;
      *) zstd -dcq "$z" 2>/dev/null > ref ;;
    esac
    whole=$(wc -l < ref)
    head -n "$whole" ref > ref-whole
    [ "$whole" -gt 0 ] || msg+=("$z: the reference decoder gave no whole line")
    # A partial last line is one error record; a wrong checksum leaves none (every line whole).
    if [ "$(stat -c %s ref)" = "$(stat -c %s ref-whole)" ]; then errs=0; else errs=1; fi
    for bs in 4K 64K 1M; do
      for j in 1 2; do
        rc=0
        "$PPIPE" -j $j --batch-size $bs --stages parse --errors got.err "$z" > got 2> got.stderr || rc=$?
        [ "$rc" = 3 ] || msg+=("$z -j $j --batch-size $bs: exit $rc, expected 3")
        cmp -s ref-whole got || msg+=("$z -j $j --batch-size $bs: $(wc -l < got) records, the reference has $whole whole lines")
        [ "$(wc -l < got.err)" = $errs ] || msg+=("$z -j $j --batch-size $bs: $(wc -l < got.err) error records, expected $errs")
      done
    done
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "damaged gzip/zstd (checksum, cut short, small): every whole line, for any --batch-size and -j"
  else not_ok "damaged gzip/zstd for any --batch-size and -j" "${msg[@]}"; fi
}
register t_compressed_damaged_any_batch

# Real Zeek logs (tests/data/zeek), read directly as .json.gz: the records equal zcat's.
t_compressed_zeek() {
  local g msg=()
  for g in "$DATA"/zeek/*.json.gz; do
    zcat "$g" > plain.jsonl
    "$PPIPE" -j 2 --stages parse "$g" > got.jsonl 2> got.err || msg+=("$(basename "$g"): exit $?: $(head -c 200 got.err)")
    "$PPIPE" -j 2 --stages parse plain.jsonl > want.jsonl 2>/dev/null
    cmp -s want.jsonl got.jsonl || msg+=("$(basename "$g"):" "$(short_diff want.jsonl got.jsonl)")
    [ "$(wc -l < got.jsonl)" = "$(wc -l < plain.jsonl)" ] || msg+=("$(basename "$g"): $(wc -l < got.jsonl) records, zcat has $(wc -l < plain.jsonl) lines")
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "real Zeek logs as .json.gz = zcat (dns, known_services, notice)"; else not_ok "Zeek .json.gz" "${msg[@]}"; fi
}
register t_compressed_zeek

t_gzip_zero_padding() {
  # Zero bytes after the last gzip member (tape and block writers pad so) end the stream, as for
  # gzip and Python: it was a fatal error (exit 3) after the records. Anything but zeros after
  # them is still not gzip data.
  local name="gzip: zeros after the last member end the stream (exit 0); other bytes after them are refused" msg=() rc got
  printf '{"a":1}\n{"a":2}\n' > zp.jsonl
  { gzip -c zp.jsonl; head -c 5000 /dev/zero; } > zp.jsonl.gz
  rc=0; got=$("$PPIPE" --batch-size 64 zp.jsonl.gz 2> err | tr '\n' ' ') || rc=$?
  [ "$rc" = 0 ] && [ "$got" = '{"a":1} {"a":2} ' ] && [ ! -s err ] || msg+=("zeros: exit $rc, output $got, $(head -c 200 err)")
  { gzip -c zp.jsonl; printf '\0\0\0x'; } > zpx.jsonl.gz
  rc=0; "$PPIPE" zpx.jsonl.gz > out 2> err || rc=$?
  [ "$rc" = 3 ] && grep -q 'not gzip data after the end of a gzip member' err || msg+=("zeros then x: exit $rc, $(head -c 200 err)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_gzip_zero_padding

t_gzip_member_end_fills_output() {
  # A gzip member that ends just as its last output fills the reader's buffer: its end was taken
  # for the start of another member, which "ended inside" at the end of the input (exit 3 on a
  # valid file, at one --batch-size in a few hundred). Found by tests/fuzz/format_fuzz.py.
  local name="gzip: a member ending exactly at a full output buffer is the end, for every --batch-size 64..400" msg=() bs bad=""
  python3 -c "
import gzip, json, random
r = random.Random(7)
lines = ''.join(json.dumps({'i': i, 's': ''.join(r.choice('abcxyz') for _ in range(r.randint(0, 30)))}) + '\n' for i in range(12))
with gzip.open('gzb.jsonl.gz', 'wb') as f: f.write(lines.encode())"
  for bs in $(seq 64 400); do
    "$PPIPE" --batch-size "$bs" gzb.jsonl.gz > out 2> err && [ "$(wc -l < out)" = 12 ] || bad+="$bs "
  done
  [ -z "$bad" ] || msg+=("failed at --batch-size $bad: $(head -c 200 err)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_gzip_member_end_fills_output

t_compressed_damage_inside_oversized() {
  # A damaged stream that ends inside a record longer than --max-record-size: that record is an
  # error record (oversized, counted in records_in) before the run stops with exit 3, for every
  # --batch-size. The reader's skip of the record's rest returned the read error first: the
  # record was in no place at all (records_in 1, no error record) unless the batch was big
  # enough to see the damage before the skip (found by a bug hunt).
  local name="damaged gzip/zstd ending inside an oversized record: an error record, counted, for every --batch-size" msg=() z bs rc st
  { echo '{"a":1}'; printf '"'; python3 -c "import random; r = random.Random(5); print(''.join(r.choice('abcdefghijklmnopqrstuvwxyz0123456789') for _ in range(400000)), end='')"; echo '"'; echo '{"b":2}'; } > ovd.jsonl
  # (zstd decodes whole blocks of 128 KiB: its cut leaves two blocks, the record's first 256 KiB.)
  gzip -c ovd.jsonl | head -c 60000 > ovd-cut.gz
  zstd -q -c ovd.jsonl | head -c 200000 > ovd-cut.zst
  for z in ovd-cut.gz ovd-cut.zst; do
    for bs in 64 4K 64K 1M; do
      rc=0
      "$PPIPE" --batch-size $bs --max-record-size 1K --stats --errors ovd.err "$z" > ovd.out 2> ovd.stderr || rc=$?
      st=$(grep '^{"records_in"' ovd.stderr | jq -c '[.records_in, .records_out, .errors]')
      [ "$rc" = 3 ] && [ "$st" = "[2,1,1]" ] && [ "$(cat ovd.out)" = '{"a":1}' ] &&
        [ "$(jq -c '[.line, .stage, (.error | test("longer than --max-record-size"))]' ovd.err)" = '[2,"read",true]' ] ||
        msg+=("$z --batch-size $bs: exit $rc, stats $st, errors: $(head -c 200 ovd.err)")
    done
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_compressed_damage_inside_oversized

t_zstd_long_window_message() {
  # A valid zstd file written with --long=28 (a 256 MiB window) is refused to keep memory bounded,
  # but not as "corrupt" data: the message says why and how to read it (found by a bug hunt).
  local name="zstd --long=28 input: refused as too large a window, not as corrupt, with the way around" rc
  command -v zstd > /dev/null || { ok "$name (skipped: no zstd)"; return; }
  yes '{"a":1}' | head -c 300M | zstd --long=28 -1 -q -c > zl28.zst
  rc=0; "$PPIPE" --stages parse zl28.zst > /dev/null 2> zl28.err || rc=$?
  if [ "$rc" = 3 ] && grep -q 'declares a window of more than 128 MiB' zl28.err && grep -q 'zstd -dc --long=31' zl28.err &&
    ! grep -q corrupt zl28.err; then ok "$name"; else not_ok "$name" "exit $rc: $(head -c 300 zl28.err)"; fi
}
register t_zstd_long_window_message

t_compressed_bytes_in_only_for_compressed() {
  # compressed_bytes_in is for compressed input only: a plain file read ahead of a `head` cut
  # (small batches) reported the bytes read as compressed ones (found by a fuzzer of batch sizes).
  local msg=() bs got
  awk 'BEGIN { for (i = 0; i < 1000; i++) print "{\"a\":1}" }' > cbi.jsonl
  gzip -c cbi.jsonl > cbi.jsonl.gz
  for bs in 64 1M; do
    got=$("$PPIPE" --head 7 --batch-size $bs --stats-file /dev/stdout cbi.jsonl | tail -n 1 | jq -c '[.bytes_in, has("compressed_bytes_in")]')
    [ "$got" = '[56,false]' ] || msg+=("plain, --head 7 --batch-size $bs: $got")
    got=$("$PPIPE" --batch-size $bs --stats-file /dev/stdout cbi.jsonl.gz | tail -n 1 | jq -c '[.bytes_in, .compressed_bytes_in > 0]')
    [ "$got" = '[8000,true]' ] || msg+=("gzip, --batch-size $bs: $got")
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "--stats: compressed_bytes_in only when some input is compressed"; else not_ok "compressed_bytes_in" "${msg[@]}"; fi
}
register t_compressed_bytes_in_only_for_compressed
