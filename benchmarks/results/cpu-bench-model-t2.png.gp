set datafile missing "NaN"
$ratios << EOD
"gpt2 b1 s128" 1.5135 0.9720
"bert b1 s128" 1.3754 2.1397
"llama b1 s512" 1.2554 1.0520
EOD
set terminal pngcairo size 640,480 noenhanced
set output "/work/main/benchmarks/results/cpu-bench-model-t2.png"
set title "tessera whole models on cpu: peer ms / tessera ms\n(> 1: tessera faster; no bar: failed or not measured)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8
set logscale y
set grid ytics
set xtics rotate by -30
set ylabel "peer ms / tessera ms"
set key top left
plot $ratios using 2:xtic(1) title "vs torch" lc rgb "#3b6ea5", $ratios using 3:xtic(1) title "vs ort" lc rgb "#d08a2c", 1 with lines lc rgb "black" notitle
