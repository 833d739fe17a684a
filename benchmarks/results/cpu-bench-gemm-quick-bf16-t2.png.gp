$ratios << EOD
"1x768x768" 3.1916
"32x2304x768" 1.2227
"512x2304x768" 0.6887
"512x768x3072" 1.0327
"256x256x256" 1.0945
"512x512x512" 1.0275
"1024x1024x1024" 1.1698
"7x1000x129" 1.1440
"129x129x1000" 1.0000
EOD
set terminal pngcairo size 760,480 noenhanced
set output "cpu-bench-gemm-quick-bf16-t2.png"
set title "tessera GEMM / peer, bf16, B [K,N]"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8
set yrange [0:*]
set grid ytics
set xtics rotate by -45
set ylabel "ratio (1 = parity; 0 = failed)"
unset key
plot $ratios using 2:xtic(1) title "vs OpenBLAS" lc rgb "#3b6ea5", 1 with lines lc rgb "black" notitle
