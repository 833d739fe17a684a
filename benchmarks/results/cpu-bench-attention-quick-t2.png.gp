set datafile missing "NaN"
$ratios << EOD
"1x12x128x64" 1.1603
"1x12x128x64-causal" 1.4014
"1x12x512x64" 0.9833
"1x12x512x64-causal" 1.6540
"1x12x1024x64" 0.8322
"1x12x1024x64-causal" 1.2745
"1x12x2048x64" 0.8723
"1x12x2048x64-causal" 0.9804
"1x32x512x128" 0.8152
"1x32x512x128-causal" 1.2743
"1x32x1024x128" 0.7807
"1x32x1024x128-causal" 0.9411
"1x32x1024x128-kv8" 0.8063
"1x32x1024x128-kv8-causal" 0.9724
EOD
set terminal pngcairo size 960,480 noenhanced
set output "/work/main/benchmarks/results/cpu-bench-attention-quick-t2.png"
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
