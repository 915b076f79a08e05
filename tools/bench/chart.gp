# tools/bench/chart.gp - bar chart of tools/bench/run.sh's chart.dat.
# usage: gnuplot -e "datafile='chart.dat'; outfile='bench.png'" chart.gp
# One cluster per workload, one bar per target, MB/s on a log scale
# (4 KiB IOPS are shown as MB/s: IOPS * 4096 / 1e6).
set terminal pngcairo size 1200,600 font ",10" noenhanced
set output outfile
set title "uzram and peers, same run (MB/s, log scale; higher is better)"
set style data histogram
set style histogram cluster gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [10:*]
set ylabel "MB/s"
set grid ytics
set key outside right top vertical
set xtics nomirror
ncol = system("head -1 " . datafile . " | wc -w") + 0
plot for [i=2:ncol] datafile using i:xtic(1) title columnheader(i)
