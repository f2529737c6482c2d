package org.fslspark.api;

import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValueFactory;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.fslspark.config.Experiment;
import org.fslspark.config.ExperimentLoader;
import org.fslspark.metrics.ResultsWriter;
import org.fslspark.metrics.RoundRecord;
import org.fslspark.runtime.FederatedTraining;
import org.fslspark.runtime.PrepareJob;
import org.fslspark.sweep.Grid;
import org.fslspark.sweep.Sweep;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * An experiment as a notebook (or any JVM program) defines and runs it, without the command line: a config
 * file and overrides, kept as a value ({@link #with} returns a new one), run on the caller's SparkSession.
 * <pre>{@code
 * Experiments e = Experiments.load("conf/quickstart.conf").with("algorithm", "fsl-sage").with("train.rounds", 3);
 * e.prepare();
 * Experiments.Run run = e.run(spark, r -> System.out.println(r.round() + " " + r.testAccuracy()));
 * run.rounds(spark).show();
 * }</pre>
 */
public final class Experiments {
    private final String config;
    private final List<String> overrides;

    private Experiments(String config, List<String> overrides) {
        this.config = config;
        this.overrides = List.copyOf(overrides);
        experiment(); // a bad file or key fails here, where it was given
    }

    /** The experiment of a config file (HOCON; a local path or any Hadoop URI), e.g. conf/quickstart.conf. */
    public static Experiments load(String config) {
        return new Experiments(config, List.of());
    }

    /** This experiment with {@code key} set to {@code value} (a string, number, boolean or java.util.List). */
    public Experiments with(String key, Object value) {
        return set(key + "=" + ConfigValueFactory.fromAnyRef(value).render(ConfigRenderOptions.concise()));
    }

    /** This experiment with overrides as {@code --set} takes them: {@code key=value}, the value in HOCON. */
    public Experiments set(String... keyValues) {
        List<String> all = new ArrayList<>(overrides);
        all.addAll(List.of(keyValues));
        return new Experiments(config, all);
    }

    /** The resolved experiment (every key, defaults filled in). */
    public Experiment experiment() {
        return ExperimentLoader.fromLocation(config, overrides);
    }

    /** Writes the institutes' partitions and the test set (replacing earlier ones), as {@code fsl prepare --overwrite}. */
    public Experiments prepare() {
        PrepareJob.run(experiment(), true, System.out);
        return this;
    }

    /** A finished run: how it ended and its rounds. */
    public record Run(FederatedTraining.Summary summary) {
        public List<RoundRecord> records() {
            return summary.rounds();
        }

        /** The rounds as a DataFrame with rounds.parquet's schema. */
        public Dataset<Row> rounds(SparkSession spark) {
            return Experiments.rounds(spark, summary.rounds());
        }
    }

    /** Trains on {@code spark} (replacing earlier results in the output location), calling {@code onRound} after every round. */
    public Run run(SparkSession spark, Consumer<RoundRecord> onRound) {
        return new Run(FederatedTraining.run(experiment(), spark, FederatedTraining.Start.OVERWRITE, onRound));
    }

    /**
     * Runs this experiment over a grid ({@code KEY=[V1,V2,...]} entries, as {@code fsl sweep --grid} takes them), seeds
     * 1..{@code seeds}, into {@code out}, calling {@code onRound} with the run's title and each round; finished runs
     * there are reused. The summary reports traffic and time to 80% and 85% accuracy.
     */
    public Sweep.Result sweep(SparkSession spark, List<String> grid, int seeds, String out, BiConsumer<String, RoundRecord> onRound) {
        return sweep(spark, grid, seeds, out, new double[]{0.80, 0.85}, onRound);
    }

    /** {@link #sweep(SparkSession, List, int, String, BiConsumer)} with its own target accuracies. */
    public Sweep.Result sweep(SparkSession spark, List<String> grid, int seeds, String out, double[] targets,
                              BiConsumer<String, RoundRecord> onRound) {
        Sweep.Spec spec = new Sweep.Spec(config, overrides, Grid.parse(grid), seeds, out,
                Arrays.stream(targets).boxed().toList());
        try {
            return Sweep.run(spark, spec, System.out, new Sweep.Listener() {
                @Override
                public void round(Sweep.Planned p, RoundRecord r) {
                    onRound.accept(p.title(), r);
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Rounds as a DataFrame with rounds.parquet's schema. */
    public static Dataset<Row> rounds(SparkSession spark, List<RoundRecord> rounds) {
        return spark.createDataFrame(rounds.stream().map(r -> RowFactory.create(r.values())).toList(), ResultsWriter.ROUNDS);
    }
}
