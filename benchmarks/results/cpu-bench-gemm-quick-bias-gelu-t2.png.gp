$ratios << EOD
"1x768x768" 0.9033
"32x2304x768" 1.8181
"512x2304x768" 1.9447
"512x768x3072" 1.2537
"256x256x256" 4.2635
"512x512x512" 2.4594
"1024x1024x1024" 2.3463
"7x1000x129" 2.1001
"129x129x1000" 1.8621
EOD
set terminal pngcairo size 760,480 noenhanced
set output "cpu-bench-gemm-quick-bias-gelu-t2.png"
set title "tessera GEMM / peer, f32, B [N,K], + bias + GELU"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8
set yrange [0:*]
set grid ytics
set xtics rotate by -45
set ylabel "ratio (1 = parity; 0 = failed)"
unset key
plot $ratios using 2:xtic(1) title "vs OpenBLAS" lc rgb "#3b6ea5", 1 with lines lc rgb "black" notitle
