package org.fslspark.sweep;

import org.apache.commons.math3.distribution.TDistribution;
import org.fslspark.metrics.RoundRecord;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * What a grid point's seeds say together: for each figure of a run (best and final accuracy, traffic,
 * time, and traffic, rounds and time to each target accuracy) the number of seeds that have it, their
 * mean, sample standard deviation and the 95% confidence interval of the mean (Student's t with n-1
 * degrees of freedom; undefined, NaN, for fewer than two seeds).
 */
public final class SweepSummary {
    private SweepSummary() {
    }

    /** One figure over the seeds of a point: {@code n} of {@code seeds} have it (a target not reached has none). */
    public record Stat(String metric, int n, int seeds, double mean, double sd, double low, double high) {
        /** "0.8312 ± 0.0123" (the interval's half width), or the mean alone when there is no interval. */
        public String text() {
            if (n == 0) {
                return "not reached";
            }
            String m = String.format(Locale.ROOT, metric.contains("accuracy") ? "%.4f" : "%.1f", mean);
            String half = Double.isNaN(high) ? "" : String.format(Locale.ROOT, metric.contains("accuracy") ? " ± %.4f" : " ± %.1f",
                    (high - low) / 2);
            return m + half + (n < seeds ? " (" + n + "/" + seeds + " seeds)" : "");
        }
    }

    /** The statistics of {@code values}, {@code seeds} runs of which these are the ones that have the figure. */
    public static Stat of(String metric, List<Double> values, int seeds) {
        int n = values.size();
        double mean = values.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
        if (n < 2) {
            return new Stat(metric, n, seeds, mean, Double.NaN, Double.NaN, Double.NaN);
        }
        double squares = values.stream().mapToDouble(v -> (v - mean) * (v - mean)).sum();
        double sd = Math.sqrt(squares / (n - 1));
        double half = new TDistribution(n - 1).inverseCumulativeProbability(0.975) * sd / Math.sqrt(n);
        return new Stat(metric, n, seeds, mean, sd, mean - half, mean + half);
    }

    /** Every figure of one point's runs (one list of rounds per seed). */
    public static List<Stat> of(List<List<RoundRecord>> runs, List<Double> targets) {
        Map<String, List<Double>> figures = new LinkedHashMap<>();
        for (String m : List.of("best_accuracy", "final_accuracy", "payload_mb", "seconds", "modelled_seconds")) {
            figures.put(m, new ArrayList<>());
        }
        for (double t : targets) {
            for (String m : List.of("mb_to_", "rounds_to_", "seconds_to_", "modelled_seconds_to_")) {
                figures.put(m + target(t), new ArrayList<>());
            }
        }
        for (List<RoundRecord> rounds : runs) {
            RoundRecord last = rounds.get(rounds.size() - 1);
            figures.get("best_accuracy").add(rounds.stream().mapToDouble(RoundRecord::testAccuracy).max().orElseThrow());
            figures.get("final_accuracy").add(last.testAccuracy());
            figures.get("payload_mb").add(last.cumulativePayloadBytes() / 1e6);
            figures.get("seconds").add(last.cumulativeSeconds());
            figures.get("modelled_seconds").add(last.cumulativeModelledSeconds());
            for (double t : targets) {
                Optional<RoundRecord> first = RoundRecord.firstReaching(rounds, t);
                first.ifPresent(r -> {
                    figures.get("mb_to_" + target(t)).add(r.cumulativePayloadBytes() / 1e6);
                    figures.get("rounds_to_" + target(t)).add(r.round() + 1.0);
                    figures.get("seconds_to_" + target(t)).add(r.cumulativeSeconds());
                    figures.get("modelled_seconds_to_" + target(t)).add(r.cumulativeModelledSeconds());
                });
            }
        }
        List<Stat> out = new ArrayList<>();
        figures.forEach((m, v) -> out.add(of(m, v, runs.size())));
        return out;
    }

    /** A target accuracy as it appears in a metric's name: 0.8 is "0.80". */
    static String target(double t) {
        return String.format(Locale.ROOT, "%.2f", t);
    }
}
