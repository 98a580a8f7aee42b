# Runs a command and samples its resident set every 0.5 s (INTERVAL=seconds to change it) from /proc/PID/smaps_rollup (issue 18's RSS hunt):
# OUT.series holds time, RSS, anonymous and file-backed MB; OUT.peak the smaps breakdown (by mapping) at the highest
# sample; OUT.stdout the command's output. LIMIT=seconds sends one SIGTERM after that long (ctr train halts cleanly).
# Samples can miss a peak shorter than the interval: `ctr train --json` reports VmHWM as well. Linux only.
#   /usr/bin/python3 bench/rss-sample.py /tmp/r10m dotnet src/Cli/bin/Release/net10.0/ctr.dll train --config c.yaml --out run --json
import os, subprocess, sys, time, re, collections, json
out = sys.argv[1]; cmd = sys.argv[2:]
p = subprocess.Popen(cmd, stdout=open(out + '.stdout', 'w'), stderr=subprocess.STDOUT)
pid = p.pid
def rollup():
    d = {}
    for line in open(f'/proc/{pid}/smaps_rollup'):
        m = re.match(r'(\w+):\s+(\d+) kB', line)
        if m: d[m.group(1)] = int(m.group(2))
    return d
def breakdown():
    agg = collections.Counter(); name = None
    for line in open(f'/proc/{pid}/smaps'):
        if re.match(r'^[0-9a-f]+-[0-9a-f]+ ', line):
            parts = line.split(None, 5); name = parts[5].strip() if len(parts) > 5 else '[anon]'
            lo, hi = (int(x, 16) for x in parts[0].split('-'))
            if name == '[anon]': name = '[anon, mapping >= 1 GB: GC reserve]' if hi - lo >= (1 << 30) else ('[anon, mapping >= 64 MB]' if hi - lo >= (64 << 20) else '[anon, smaller mappings]')
        elif line.startswith('Rss:'):
            agg[name] += int(line.split()[1])
    return agg
def hwm():
    for line in open(f'/proc/{pid}/status'):
        if line.startswith('VmHWM:'): return int(line.split()[1])
    return 0
t0 = time.time(); best = 0; series = []; bd = None; stopped = False; peak = 0
while p.poll() is None:
    try:
        r = rollup()
        rss = r.get('Rss', 0)
        peak = max(peak, hwm())   # the kernel's high-water mark: peaks between samples too
        series.append((round(time.time() - t0, 1), rss // 1024, r.get('Anonymous', 0) // 1024, (rss - r.get('Anonymous', 0)) // 1024))
        if rss > best + 2048:
            best = rss; bd = (round(time.time() - t0, 1), breakdown())
    except Exception:
        pass
    time.sleep(float(os.environ.get('INTERVAL', '0.5')))
    if os.environ.get('LIMIT') and not stopped and time.time() - t0 > float(os.environ['LIMIT']):
        p.terminate(); stopped = True   # once: a second signal would kill the halting run
with open(out + '.series', 'w') as f:
    f.write('t_s rss_mb anon_mb file_mb\n')
    for s in series: f.write(' '.join(map(str, s)) + '\n')
with open(out + '.peak', 'w') as f:
    f.write(f'max rss at t={bd[0]} s\n')
    for k, v in bd[1].most_common(25): f.write(f'{v//1024:8d} MB  {k}\n')
print('rc', p.returncode, 'max rss MB', best // 1024, 'VmHWM MB (last sample)', peak // 1024)
