package org.fslspark.runtime;

import org.apache.spark.sql.SparkSession;
import org.fslspark.config.Experiment;
import org.fslspark.config.ExperimentLoader;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPInputStream;

/** Real Fashion-MNIST partitions and a loopback Spark session for runtime tests. */
public final class Fixtures {
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

    /**
     * The override {@code data.test=[...]} naming the first {@code n} images of Fashion-MNIST's test set, written as IDX
     * files under {@code dir}: runs evaluate after every round, at a cost proportional to the test set.
     */
    public static String smallTestSet(Path dir, int n) throws IOException {
        Path images = dir.resolve("t" + n + "-images-idx3-ubyte");
        Path labels = dir.resolve("t" + n + "-labels-idx1-ubyte");
        Files.createDirectories(dir);
        truncateIdx(FASHION + "t10k-images-idx3-ubyte.gz", images, 4, n, 28 * 28);
        truncateIdx(FASHION + "t10k-labels-idx1-ubyte.gz", labels, 2, n, 1);
        return "data.test=[\"" + images + "\", \"" + labels + "\"]";
    }

    /** Copies an IDX file's header ({@code ints} big-endian ints, the count second) and its first {@code n} records. */
    private static void truncateIdx(String source, Path target, int ints, int n, int recordBytes) throws IOException {
        try (DataInputStream in = new DataInputStream(new GZIPInputStream(new FileInputStream(source)));
             DataOutputStream out = new DataOutputStream(Files.newOutputStream(target))) {
            for (int i = 0; i < ints; i++) {
                int v = in.readInt();
                out.writeInt(i == 1 ? n : v);
            }
            byte[] records = new byte[n * recordBytes];
            in.readFully(records);
            out.write(records);
        }
    }

    /** Runs `prepare` for the experiment, as the command does. */
    static void prepare(Experiment e) {
        PrepareJob.run(e, true, null);
    }

    static SparkSession spark() {
        return Sparks.session(ExperimentLoader.load(null, List.of("spark.master=local[5]")));
    }
}
