#!/usr/bin/env python3
"""Create devices.db, the home hub's device table, with a few devices (re-run to reset).

usage: make_devices.py [OUT.db]
"""
import os
import sqlite3
import sys

path = sys.argv[1] if len(sys.argv) > 1 else "devices.db"
if os.path.exists(path):
    os.remove(path)
con = sqlite3.connect(path)
con.executescript("""
CREATE TABLE devices(name TEXT PRIMARY KEY, kind TEXT, state TEXT,
                     value REAL, min REAL, max REAL, unit TEXT);
INSERT INTO devices VALUES('lamp', 'light', 'off', NULL, NULL, NULL, NULL);
INSERT INTO devices VALUES('porch light', 'light', 'on', NULL, NULL, NULL, NULL);
INSERT INTO devices VALUES('thermostat', 'heating', 'on', 20, 16, 26, 'C');
INSERT INTO devices VALUES('blinds', 'cover', 'on', 100, 0, 100, '%');
""")
con.commit()
con.close()
