package org.fslspark.metrics;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/** Accuracy against cumulative traffic and against time, one curve per run, as PNG. */
public final class Plots {
    private Plots() {
    }

    public static byte[] accuracyAgainst(String xTitle, Map<String, List<RoundRecord>> runs, ToDoubleFunction<RoundRecord> x)
            throws IOException {
        XYChart chart = new XYChartBuilder().width(800).height(500).title("Test accuracy against " + xTitle)
                .xAxisTitle(xTitle).yAxisTitle("test accuracy").build();
        runs.forEach((name, rows) -> {
            if (!rows.isEmpty()) {
                chart.addSeries(name, rows.stream().mapToDouble(x).toArray(),
                        rows.stream().mapToDouble(RoundRecord::testAccuracy).toArray());
            }
        });
        return BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG);
    }

    /** Cumulative payload traffic in megabytes (10^6 bytes). */
    public static double megabytes(RoundRecord r) {
        return r.cumulativePayloadBytes() / 1e6;
    }
}
