"""A sheet of labels as PDF, made in a process of its own for the status page.

A day's labels are seconds of segno and Pillow work (some 13 ms a label here), most of it
holding the GIL the sockets' threads need while they flash: the daemon hands the work to
``python -m flashjig.station.labelsheet`` instead, which reads the labels and their layout
(pickled: the daemon is the only writer of its stdin) and writes the PDF on stdout. A
label that cannot be made: its words on stderr, exit LABEL_REFUSED.
"""

import pickle
import sys

from flashjig.config.labelcode import LabelError
from flashjig.station.labels import sheet_pdf

LABEL_REFUSED = 3


def main() -> int:
    labels, layout = pickle.load(sys.stdin.buffer)
    try:
        pdf = sheet_pdf(labels, layout)
    except LabelError as e:
        print(e, file=sys.stderr)
        return LABEL_REFUSED
    sys.stdout.buffer.write(pdf)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
