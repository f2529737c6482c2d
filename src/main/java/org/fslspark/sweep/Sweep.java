package org.fslspark.sweep;

import com.univocity.parsers.csv.CsvWriter;
import com.univocity.parsers.csv.CsvWriterSettings;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.fslspark.config.ConfigException;
import org.fslspark.config.Experiment;
import org.fslspark.config.ExperimentLoader;
import org.fslspark.metrics.HadoopFiles;
import org.fslspark.metrics.ResultsWriter;
import org.fslspark.metrics.RoundRecord;
import org.fslspark.runtime.FederatedTraining;
import org.fslspark.runtime.PrepareJob;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;

import java.io.IOException;
import java.io.PrintStream;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * A grid of experiments, each point run with seeds 1..N (or A..B) in one Spark application, and what the seeds say
 * together. Layout under the sweep's output location (any Hadoop URI):
 * <ul>
 *   <li>{@code runs/<key>=<value>/.../seed=<s>/}: each run's own results (as {@code fsl train} writes them);
 *   a run is finished when its {@code _SWEEP_DONE} marker exists, and a re-run of the sweep reuses it (and
 *   refuses to if the run's saved config differs from the sweep's in what it trains or how many rounds);
 *   an unfinished run resumes from its newest round checkpoint, or starts again without one;</li>
 *   <li>{@code data/<digest>/}: the partitions, prepared once per distinct value of the keys prepare applies
 *   (the seed among them: each seed has its own split);</li>
 *   <li>{@code sweep.csv}/{@code .parquet}: every round of every run, the grid's keys and the seed as columns;</li>
 *   <li>{@code summary.csv}/{@code .md}: per point and figure, {@link SweepSummary}; plots with 95% intervals.</li>
 * </ul>
 */
public final class Sweep {
    static final String DONE = "_SWEEP_DONE";
    private static final String PREPARED = "_SWEEP_PREPARED";

    private Sweep() {
    }

    /** A sweep: the base experiment's config (a local path or any Hadoop URI) and its overrides, the grid, the seeds, the output location. */
    public record Spec(String config, List<String> overrides, Grid grid, Seeds seeds, String out, List<Double> targets) {
        public Spec {
            overrides = List.copyOf(overrides);
            targets = List.copyOf(targets);
        }

        /** Seeds 1..{@code seeds}. */
        public Spec(String config, List<String> overrides, Grid grid, int seeds, String out, List<Double> targets) {
            this(config, overrides, grid, Seeds.upTo(seeds), out, targets);
        }
    }

    /** One run of the sweep: a grid point, a seed and the experiment they make. */
    public record Planned(Map<String, String> point, int seed, Experiment experiment) {
        public String title() {
            return Grid.directory(point) + " seed=" + seed;
        }
    }

    /** A run's rounds; {@code reused} when an earlier sweep had finished it. */
    public record Run(Planned plan, List<RoundRecord> rounds, boolean reused) {
    }

    /** Every run, and every point's statistics in the grid's order. */
    public record Result(List<Run> runs, Map<Map<String, String>, List<SweepSummary.Stat>> summary) {
    }

    /** What a caller sees of a running sweep; every method may be left out. */
    public interface Listener {
        default void started(Planned p, int index, int of, boolean reused) {
        }

        default void round(Planned p, RoundRecord r) {
        }
    }

    /** The sweep's runs in order: every point of the grid with each seed, each with its own output and data location. */
    public static List<Planned> plan(Spec s) {
        List<Planned> runs = new ArrayList<>();
        Map<String, Map<String, String>> directories = new LinkedHashMap<>();
        for (Map<String, String> point : s.grid().points()) {
            Map<String, String> other = directories.put(Grid.directory(point), point);
            if (other != null) {
                throw new IllegalArgumentException("grid points " + other + " and " + point + " would share the directory "
                        + Grid.directory(point) + "; give values that differ in letters or digits");
            }
            for (int seed = s.seeds().first(); seed <= s.seeds().last(); seed++) {
                List<String> keys = new ArrayList<>(s.overrides());
                point.forEach((k, v) -> keys.add(k + "=" + v));
                keys.add("seed=" + seed);
                keys.add("output=\"" + new Path(s.out(), "runs/" + Grid.directory(point) + "/seed=" + seed) + "\"");
                Experiment unplaced = ExperimentLoader.fromLocation(s.config(), keys);
                keys.add("data.location=\"" + new Path(s.out(), "data/" + digest(unplaced)) + "\"");
                runs.add(new Planned(point, seed, ExperimentLoader.fromLocation(s.config(), keys)));
            }
        }
        return runs;
    }

    /** Runs (or reuses) every run of the sweep, then writes its tables, summary and plots. */
    public static Result run(SparkSession spark, Spec s, PrintStream log, Listener listener) throws IOException {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        List<Planned> plan = plan(s);
        List<Run> runs = new ArrayList<>();
        for (int i = 0; i < plan.size(); i++) {
            Planned p = plan.get(i);
            Experiment e = p.experiment();
            FileSystem fs = new Path(e.output()).getFileSystem(conf);
            Path done = new Path(e.output(), DONE);
            boolean reused = fs.exists(done);
            listener.started(p, i, plan.size(), reused);
            if (reused) {
                try {
                    // A run's data location is the sweep's own (its --out, however spelt, and the digest of the keys
                    // that prepare the data, which are compared).
                    ExperimentLoader.requireReusable(ResultsWriter.read(e.output(), conf, "config"), e.resolvedConfig(),
                            java.util.Set.of("data.location"));
                } catch (ConfigException different) {
                    throw new ConfigException("the finished run " + p.title() + " in " + e.output() + " is not the sweep's: "
                            + different.getMessage() + "; give another --out, or delete that run to run it again");
                }
                runs.add(new Run(p, ResultsWriter.readRounds(e.output(), conf), true));
                continue;
            }
            Path prepared = new Path(e.data().location(), PREPARED);
            if (!fs.exists(prepared)) {
                PrepareJob.run(e, true, log);
                HadoopFiles.write(fs, prepared, new byte[0]);
            }
            FederatedTraining.Start start = FederatedTraining.resumable(e, conf)
                    ? FederatedTraining.Start.RESUME : FederatedTraining.Start.OVERWRITE;
            FederatedTraining.Summary summary = FederatedTraining.run(e, spark, start, r -> listener.round(p, r));
            HadoopFiles.write(fs, done, summary.stopReason().getBytes(StandardCharsets.UTF_8));
            runs.add(new Run(p, summary.rounds(), false));
        }
        Map<Map<String, String>, List<SweepSummary.Stat>> summary = new LinkedHashMap<>();
        for (Map<String, String> point : s.grid().points()) {
            summary.put(point, SweepSummary.of(runs.stream().filter(r -> r.plan().point().equals(point))
                    .map(Run::rounds).toList(), s.targets()));
        }
        Result result = new Result(List.copyOf(runs), summary);
        write(spark, s, result);
        return result;
    }

    /** A short name for the partition an experiment needs: a digest of the values of the keys prepare applies. */
    private static String digest(Experiment e) {
        String keys = PrepareJob.preparedKeys(e) + " " + e.data().tokenizer() + " " + e.data().context();
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(keys.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(d, 0, 6);
        } catch (NoSuchAlgorithmException ex) {
            throw new IllegalStateException(ex);
        }
    }

    /** A grid key as a column name: {@code data.partition.scheme} is {@code data_partition_scheme}. */
    static String column(String key) {
        return key.replaceAll("[^A-Za-z0-9_]", "_");
    }

    /** The grid's columns that rounds' own columns do not already hold (an {@code algorithm} grid is in {@code algorithm}). */
    private static List<String> gridKeys(Spec s) {
        List<String> own = Arrays.asList(RoundRecord.COLUMNS);
        return s.grid().axes().stream().map(Grid.Axis::key).filter(k -> !own.contains(column(k))).toList();
    }

    private static void write(SparkSession spark, Spec s, Result r) throws IOException {
        Path out = new Path(s.out());
        FileSystem fs = out.getFileSystem(spark.sparkContext().hadoopConfiguration());
        List<String> keys = gridKeys(s);

        List<String> header = new ArrayList<>(keys.stream().map(Sweep::column).toList());
        header.add("seed");
        header.addAll(Arrays.asList(RoundRecord.COLUMNS));
        List<Object[]> rows = new ArrayList<>();
        for (Run run : r.runs()) {
            for (RoundRecord round : run.rounds()) {
                List<Object> row = new ArrayList<>();
                keys.forEach(k -> row.add(Grid.unquoted(run.plan().point().get(k))));
                row.add(run.plan().seed());
                row.addAll(Arrays.asList(round.values()));
                rows.add(row.toArray());
            }
        }
        HadoopFiles.replace(fs, new Path(out, "sweep.csv"), csv(header, rows));
        List<StructField> fields = new ArrayList<>();
        keys.forEach(k -> fields.add(DataTypes.createStructField(column(k), DataTypes.StringType, false)));
        fields.add(DataTypes.createStructField("seed", DataTypes.IntegerType, false));
        fields.addAll(Arrays.asList(ResultsWriter.ROUNDS.fields()));
        List<Row> data = rows.stream().map(RowFactory::create).toList();
        spark.createDataFrame(data, new StructType(fields.toArray(StructField[]::new))).coalesce(1).write()
                .mode(SaveMode.Overwrite).parquet(new Path(out, "sweep.parquet").toString());

        List<String> summaryHeader = new ArrayList<>(s.grid().axes().stream().map(a -> column(a.key())).toList());
        summaryHeader.addAll(List.of("metric", "n", "seeds", "mean", "sd", "ci95_low", "ci95_high"));
        List<Object[]> summaryRows = new ArrayList<>();
        r.summary().forEach((point, stats) -> {
            for (SweepSummary.Stat st : stats) {
                List<Object> row = new ArrayList<>(point.values().stream().map(Grid::unquoted).toList());
                row.addAll(List.of(st.metric(), st.n(), st.seeds(), st.mean(), st.sd(), st.low(), st.high()));
                summaryRows.add(row.toArray());
            }
        });
        HadoopFiles.replace(fs, new Path(out, "summary.csv"), csv(summaryHeader, summaryRows));
        HadoopFiles.replace(fs, new Path(out, "summary.md"), markdown(s, r).getBytes(StandardCharsets.UTF_8));
        HadoopFiles.replace(fs, new Path(out, "accuracy_vs_traffic.png"),
                plot(s, r, "cumulative payload traffic (MB, logarithmic)", x -> x.cumulativePayloadBytes() / 1e6, true));
        HadoopFiles.replace(fs, new Path(out, "accuracy_vs_time.png"),
                plot(s, r, "modelled time (s)", RoundRecord::cumulativeModelledSeconds, false));
    }

    private static byte[] csv(List<String> header, List<Object[]> rows) {
        StringWriter text = new StringWriter();
        CsvWriter w = new CsvWriter(text, new CsvWriterSettings());
        w.writeHeaders(header);
        rows.forEach(w::writeRow);
        w.close();
        return text.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** A table per sweep: a row per grid point, a column per figure, "mean ± half the 95% interval". */
    public static String markdown(Spec s, Result r) {
        List<String> metrics = r.summary().values().iterator().next().stream().map(SweepSummary.Stat::metric).toList();
        StringBuilder b = new StringBuilder("| point | " + String.join(" | ", metrics) + " |\n|"
                + " --- |".repeat(metrics.size() + 1) + "\n");
        r.summary().forEach((point, stats) -> b.append("| ").append(Grid.label(point))
                .append(" | ").append(String.join(" | ", stats.stream().map(SweepSummary.Stat::text).toList())).append(" |\n"));
        b.append(String.format(Locale.ROOT, "%n%s per point; ± is half the 95%% confidence interval of the mean "
                + "(Student's t, n-1 degrees of freedom); a target's figures are over the seeds that reached it.%n", seeds(s)));
        return b.toString();
    }

    private static String seeds(Spec s) {
        Seeds seeds = s.seeds();
        return seeds.first() > 1 ? seeds.toString() : seeds.count() == 1 ? "1 seed" : seeds.count() + " seeds";
    }

    /**
     * Mean test accuracy against the mean of {@code x}, per point, over the rounds every seed ran; error bars are
     * the 95% interval of the mean accuracy.
     */
    private static byte[] plot(Spec s, Result r, String xTitle, ToDoubleFunction<RoundRecord> x, boolean logarithmic)
            throws IOException {
        XYChart chart = new XYChartBuilder().width(900).height(600).title("Test accuracy against " + xTitle
                + ", " + seeds(s)).xAxisTitle(xTitle).yAxisTitle("test accuracy").build();
        // Below the plot: a point's label (every grid key) is long. Traffic spans orders of magnitude between algorithms.
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
        chart.getStyler().setXAxisLogarithmic(logarithmic);
        for (Map<String, String> point : r.summary().keySet()) {
            List<List<RoundRecord>> seeds = r.runs().stream().filter(run -> run.plan().point().equals(point)).map(Run::rounds).toList();
            int rounds = seeds.stream().mapToInt(List::size).min().orElse(0);
            double[] xs = new double[rounds];
            double[] ys = new double[rounds];
            double[] bars = new double[rounds];
            for (int t = 0; t < rounds; t++) {
                final int round = t;
                xs[t] = seeds.stream().mapToDouble(run -> x.applyAsDouble(run.get(round))).average().orElseThrow();
                SweepSummary.Stat acc = SweepSummary.of("accuracy", seeds.stream().map(run -> run.get(round).testAccuracy()).toList(), seeds.size());
                ys[t] = acc.mean();
                bars[t] = Double.isNaN(acc.high()) ? 0 : (acc.high() - acc.low()) / 2;
            }
            if (rounds > 0) {
                chart.addSeries(Grid.label(point), xs, ys, bars);
            }
        }
        return BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG);
    }
}
