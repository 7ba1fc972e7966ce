"""libx264 settings under which the same frames give the same bytes in every run.

Through this PyAV wheel, x264's macroblock-tree rate control over a lookahead (its
default) gave other bitstreams for the same frames from one run to the next, and in
processes that ran at the same time (11-16 of 30 synthetic clips; 1-12 of 12 re-encoded
clips per run, single-threaded, measured): both are off. One encoder thread and bit-exact
muxing complete it. B-frames and the rest stay.
"""

BITEXACT = {"fflags": "+bitexact"}  # container options: no muxer version or time in the file
REPRODUCIBLE = "mbtree=0:rc-lookahead=0"  # x264-params
