#!/usr/bin/env python3
"""Write data/contracts/it-support.pdf: a one-page text PDF written by hand (no library).

usage: make_pdf.py [OUT.pdf]
"""
import sys

LINES = [
    "IT SUPPORT AGREEMENT between Northwind Clinic Ltd (Client) and ByteCare Ltd (Supplier).",
    "1. Term. This agreement runs for 24 months from 1 March 2027.",
    "2. Service levels. The Supplier answers support requests within 5 working days.",
    "3. Fees. The fee is EUR 900 per month, payable 60 days in advance.",
    "4. Termination. The Supplier may terminate this agreement at any time without notice.",
    "5. Data. Patient data may be stored on servers outside the European Union.",
    "6. Liability. Each party is liable for damage it causes, without limit.",
]


def pdf(lines):
    text = ["BT", "/F1 10 Tf", "50 780 Td", "14 TL"]
    for line in lines:
        esc = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        text.append(f"({esc}) Tj T*")
    text.append("ET")
    stream = "\n".join(text).encode("latin-1")
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else "data/contracts/it-support.pdf"
    with open(path, "wb") as f:
        f.write(pdf(LINES))
