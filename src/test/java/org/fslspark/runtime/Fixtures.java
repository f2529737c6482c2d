package org.fslspark.runtime;

import org.apache.spark.sql.SparkSession;
import org.fslspark.config.Experiment;
import org.fslspark.config.ExperimentLoader;

import java.io.File;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Real Fashion-MNIST partitions and a loopback Spark session for runtime tests. */
final class Fixtures {
    static final String FASHION = "/usr/share/datasets/fashion-mnist/";

    private Fixtures() {
    }

    /** The experiment of conf/quickstart.conf with the given overrides, its data and output under {@code dir}. */
    static Experiment experiment(Path dir, String... overrides) {
        if (!new File(FASHION + "train-images-idx3-ubyte.gz").isFile()) {
            throw new IllegalStateException("Fashion-MNIST is missing: apt-get install dataset-fashion-mnist");
        }
        List<String> all = new ArrayList<>(List.of("data.location=\"" + dir.resolve("data") + "\"",
                "output=\"" + dir.resolve("out") + "\"", "train.eval-batch-size=500"));
        all.addAll(List.of(overrides));
        return ExperimentLoader.load(new File("conf/quickstart.conf"), all);
    }

    /** Runs `prepare` for the experiment, as the command does. */
    static void prepare(Experiment e) {
        PrepareJob.run(e, true, null);
    }

    static SparkSession spark() {
        return Sparks.session(ExperimentLoader.load(null, List.of("spark.master=local[5]")));
    }
}
