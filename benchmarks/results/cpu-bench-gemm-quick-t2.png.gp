$ratios << EOD
"1x768x768" 1.6556
"32x2304x768" 1.1530
"512x2304x768" 0.9874
"512x768x3072" 1.0710
"256x256x256" 1.3159
"512x512x512" 1.1263
"1024x1024x1024" 0.9875
"7x1000x129" 1.3352
"129x129x1000" 1.1224
EOD
set terminal pngcairo size 760,480 noenhanced
set output "benchmarks/results/cpu-bench-gemm-quick-t2.png"
set title "tessera / OpenBLAS GEMM, f32, B [K,N] (1 = parity)"
set style fill solid 0.8
set boxwidth 0.7
set yrange [0:*]
set grid ytics
set xtics rotate by -45
set ylabel "ratio"
unset key
plot $ratios using 0:2:xtic(1) with boxes lc rgb "#3b6ea5", 1 with lines lc rgb "black"
