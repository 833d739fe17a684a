$ratios << EOD
"1x768x768" 3.0458
"32x2304x768" 1.2408
"512x2304x768" 1.0185
"512x768x3072" 1.0125
"256x256x256" 1.1235
"512x512x512" 1.0978
"1024x1024x1024" 1.0073
"7x1000x129" 1.1926
"129x129x1000" 1.0216
EOD
set terminal pngcairo size 760,480 noenhanced
set output "cpu-bench-gemm-quick-f16-t2.png"
set title "tessera GEMM / peer, f16, B [K,N]"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8
set yrange [0:*]
set grid ytics
set xtics rotate by -45
set ylabel "ratio (1 = parity; 0 = failed)"
unset key
plot $ratios using 2:xtic(1) title "vs OpenBLAS" lc rgb "#3b6ea5", 1 with lines lc rgb "black" notitle
