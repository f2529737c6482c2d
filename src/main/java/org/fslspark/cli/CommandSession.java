package org.fslspark.cli;

import org.apache.spark.sql.SparkSession;
import org.fslspark.config.Experiment;
import org.fslspark.runtime.Sparks;

/**
 * A command's Spark session. The command stops it at its end only if the command started it: a caller
 * that runs commands in its own JVM (a notebook, a test on a shared cluster session) keeps its session.
 */
final class CommandSession implements AutoCloseable {
    final SparkSession spark;
    private final boolean owned;

    CommandSession(Experiment e) {
        owned = SparkSession.getActiveSession().isEmpty() && SparkSession.getDefaultSession().isEmpty();
        spark = Sparks.session(e);
    }

    @Override
    public void close() {
        if (owned) {
            spark.stop();
        }
    }
}
