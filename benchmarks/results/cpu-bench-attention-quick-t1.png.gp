set datafile missing "NaN"
$ratios << EOD
"1x12x128x64" 0.7170
"1x12x128x64-causal" 1.8598
"1x12x512x64" 0.9327
"1x12x512x64-causal" 1.5598
"1x12x1024x64" 0.7049
"1x12x1024x64-causal" 1.1042
"1x12x2048x64" 0.8999
"1x12x2048x64-causal" 1.1164
"1x32x512x128" 0.6099
"1x32x512x128-causal" 1.2724
"1x32x1024x128" 0.7218
"1x32x1024x128-causal" 1.0154
"1x32x1024x128-kv8" 0.8268
"1x32x1024x128-kv8-causal" 0.8767
EOD
set terminal pngcairo size 960,480 noenhanced
set output "/work/main/benchmarks/results/cpu-bench-attention-quick-t1.png"
set title "tessera attention / PyTorch, f32, cpu (1 = parity; 0 = failed)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8
set yrange [0:*]
set grid ytics
set xtics rotate by -45
set ylabel "ratio"
unset key
plot $ratios using 2:xtic(1) lc rgb "#3b6ea5", 1 with lines lc rgb "black" notitle
