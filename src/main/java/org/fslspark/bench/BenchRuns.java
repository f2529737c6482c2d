package org.fslspark.bench;

import org.apache.spark.sql.SparkSession;
import org.fslspark.config.Experiment;
import org.fslspark.metrics.RoundRecord;
import org.fslspark.runtime.FederatedTraining;
import org.fslspark.runtime.PrepareJob;
import org.fslspark.runtime.Sparks;

import java.util.List;
import java.util.Locale;

/**
 * Runs a benchmark's experiments one after another in one SparkSession (made for the first of
 * them), preparing the data when asked, and prints a line per round. Closing stops the session.
 */
final class BenchRuns implements AutoCloseable {
    private SparkSession spark;

    /** Trains {@code e} (after preparing its partitions when {@code prepare}); returns its rounds. */
    List<RoundRecord> run(Experiment e, boolean prepare, String title) {
        SparkSession spark = session(e);
        if (prepare) {
            prepare(e);
        }
        System.out.printf("%n== %s%n", title);
        return FederatedTraining.run(e, spark, true, BenchRuns::print).rounds();
    }

    /** The benchmark's session, made for {@code e} if there is none yet. */
    SparkSession session(Experiment e) {
        if (spark == null) {
            spark = Sparks.session(e);
        }
        return spark;
    }

    static void print(RoundRecord r) {
        System.out.printf(Locale.ROOT, "round %2d  acc %.4f  loss %.4f  %9.1f MB  %6.1f s  (modelled %6.1f s)%n", r.round(),
                r.testAccuracy(), r.testLoss(), r.cumulativePayloadBytes() / 1e6, r.roundSeconds(), r.modelledSeconds());
    }

    /** Writes {@code e}'s partitions, replacing what is there. */
    void prepare(Experiment e) {
        PrepareJob.run(e, true, System.out);
    }

    @Override
    public void close() {
        if (spark != null) {
            spark.stop();
            spark = null;
        }
    }
}
