"""Two new sensor files arrive on a share: the next minute of its first two apartments.

    python3 scripts/lib/add-tick-files.py SHARE CREATED_LIST

The files are copies of each apartment's newest file with the minute moved on; their paths are
appended to CREATED_LIST so the caller can remove them again.
"""
import datetime
import os
import re
import sys

share, created = sys.argv[1], open(sys.argv[2], "a")
newest = {}
for name in os.listdir(share):
    m = re.match(r"(\d\d\.\d\d\.\d{4} \d{4})_(.+)_received\.json$", name)
    if not m:
        continue
    t = datetime.datetime.strptime(m.group(1), "%d.%m.%Y %H%M")
    if m.group(2) not in newest or t > newest[m.group(2)][0]:
        newest[m.group(2)] = (t, name)
for house, (t, name) in sorted(newest.items())[:2]:
    body = open(os.path.join(share, name)).read()
    nxt = t + datetime.timedelta(minutes=1)
    body = body.replace(t.strftime("%d.%m.%Y %H:%M"), nxt.strftime("%d.%m.%Y %H:%M"))
    path = os.path.join(share, nxt.strftime("%d.%m.%Y %H%M") + f"_{house}_received.json")
    open(path, "w").write(body)
    created.write(path + "\n")
