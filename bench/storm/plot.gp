# Join-storm plot for one plugin. Run by scripts/bench-storm.sh:
#   gnuplot -e "csv='test-artifacts/bench-storm/allhands-series.csv'; out='docs/images/storm-allhands.png'; plugin='allhands'" bench/storm/plot.gp
# Columns: t,janusCpu,clientsCpu,queued,admitted,connecting,withMedia,joinersAdmitted,preLossPct,preGapMs,waveNow
# (t in s from the storm's first join; admitted/queued/connecting from allhands' status, empty for VideoRoom)
# SPDX-License-Identifier: GPL-3.0-or-later
set datafile separator ','
set datafile missing ''
set terminal pngcairo size 1000,900 font 'sans,10'
set output out
set multiplot layout 3,1 title sprintf('Join storm: %s (t = 0 at the first join)', plugin)
set grid
set key outside right top
set xrange [-2:*]
set lmargin 10
set ylabel 'attendees'
plot csv using 1:7 skip 1 with lines lw 2 title 'joiners with media', \
     csv using 1:8 skip 1 with lines lw 1 dt 2 title 'joiners admitted', \
     csv using 1:4 skip 1 with lines lw 2 title 'queue length (status)', \
     csv using 1:6 skip 1 with lines lw 1 title 'connecting (status)'
set ylabel 'already-in: loss %'
set yrange [0:*]
set y2range [0:*]
set y2label 'longest current video gap (ms)'
set ytics nomirror
set y2tics
plot csv using 1:9 skip 1 with impulses lw 2 title 'packet loss % (250 ms)', \
     csv using 1:10 skip 1 axes x1y2 with lines title 'video gap now, worst (ms)'
unset y2label
unset y2tics
set ytics mirror
set ylabel 'CPU % of one core'
set xlabel 'time since the storm started (s)'
set yrange [0:110]
plot csv using 1:2 skip 1 with lines lw 2 title 'Janus (CPU 0)', \
     csv using 1:3 skip 1 with lines lw 2 title 'clients (CPU 1)', \
     80 with lines dt 3 lc rgb 'gray' title '80%'
unset multiplot
