$ratios << EOD
"1x768x768" 0.9276
"32x2304x768" 1.1036
"512x2304x768" 0.9614
"512x768x3072" 1.0307
"256x256x256" 1.1015
"512x512x512" 1.0434
"1024x1024x1024" 0.9810
"7x1000x129" 0.6973
"129x129x1000" 0.8836
EOD
set terminal pngcairo size 760,480 noenhanced
set output "benchmarks/results/cpu-bench-gemm-quick-t1.png"
set title "tessera / OpenBLAS GEMM, f32, B [K,N] (1 = parity)"
set style fill solid 0.8
set boxwidth 0.7
set yrange [0:*]
set grid ytics
set xtics rotate by -45
set ylabel "ratio"
unset key
plot $ratios using 0:2:xtic(1) with boxes lc rgb "#3b6ea5", 1 with lines lc rgb "black"
