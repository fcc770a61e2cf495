# Steady fan-out plot. Run by scripts/bench-fanout.sh:
#   gnuplot -e "csv='test-artifacts/bench-fanout/fanout.csv'; out='docs/images/fanout.png'; quota='50'" bench/fanout/plot.gp
# Columns: variant,n,presenterKbps,withVideo,janusCpu,janusCpuPerAttendee,clientsCpu,lossPct,worstLossPct,maxVideoGapMs,authFail,packetsPerAttendeePerS,
#   runs,janusCpuMin,janusCpuMax,maxVideoGapMsMin,maxVideoGapMsMax,... (medians over the runs; bars: min-max)
# SPDX-License-Identifier: GPL-3.0-or-later
set datafile separator ','
set terminal pngcairo size 1000,700 font 'sans,10'
set output out
set multiplot layout 2,1 title sprintf('Steady fan-out: one presenter, N attendees (Janus on one core, CPU quota %s%%; median of the runs, bars min-max)', quota)
set grid
set key outside right top
set lmargin 10
set xlabel 'attendees'
set ylabel 'Janus CPU (% of its core)'
set yrange [0:*]
plot csv using (strcol(1) eq 'allhands' ? $2 : 1/0):5:14:15 skip 1 with yerrorlines lw 2 title 'allhands', \
     csv using (strcol(1) eq 'allhands-relay2' ? $2 : 1/0):5:14:15 skip 1 with yerrorlines lw 2 dt 2 title 'allhands, 2 relay threads', \
     csv using (strcol(1) eq 'videoroom' ? $2 : 1/0):5:14:15 skip 1 with yerrorlines lw 2 title 'VideoRoom', \
     csv using (strcol(1) eq 'allhands' ? $2 : 1/0):7 skip 1 with lines lw 1 dt 3 title 'clients (allhands run)', \
     csv using (strcol(1) eq 'videoroom' ? $2 : 1/0):7 skip 1 with lines lw 1 dt 3 title 'clients (VideoRoom run)'
set ylabel 'longest video gap (ms)'
set y2label 'packet loss (%), points'
set y2range [0:*]
set y2tics
set ytics nomirror
plot csv using (strcol(1) eq 'allhands' ? $2 : 1/0):10:16:17 skip 1 with yerrorlines lw 2 title 'allhands: gap', \
     csv using (strcol(1) eq 'allhands-relay2' ? $2 : 1/0):10:16:17 skip 1 with yerrorlines lw 2 dt 2 title 'allhands, 2 relay threads: gap', \
     csv using (strcol(1) eq 'videoroom' ? $2 : 1/0):10:16:17 skip 1 with yerrorlines lw 2 title 'VideoRoom: gap', \
     csv using (strcol(1) eq 'allhands' ? $2 : 1/0):8 skip 1 axes x1y2 with points pt 7 title 'allhands: loss', \
     csv using (strcol(1) eq 'videoroom' ? $2 : 1/0):8 skip 1 axes x1y2 with points pt 5 title 'VideoRoom: loss'
unset multiplot
