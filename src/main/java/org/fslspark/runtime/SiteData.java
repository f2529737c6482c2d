package org.fslspark.runtime;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.fslspark.algorithm.Batch;
import org.fslspark.config.Experiment;
import org.fslspark.data.DataException;
import org.fslspark.data.Samples;
import org.fslspark.data.TokenStore;
import org.fslspark.data.PartitionStore;

import java.util.Map;
import java.util.Random;

/** A client's private partition, read only inside that institute's own task. */
final class SiteData {
    private final Samples images;

    private SiteData(Samples images) {
        this.images = images;
    }

    static Configuration hadoopConf(Map<String, String> props) {
        Configuration conf = new Configuration();
        props.forEach(conf::set);
        return conf;
    }

    /** Reads the partition at {@code location}; the store refuses it unless it belongs to {@code institute}. */
    static SiteData read(Map<String, String> hadoopConf, String location, String institute) {
        Configuration conf = hadoopConf(hadoopConf);
        Path p = new Path(location);
        return new SiteData(PartitionStore.holdsTokens(conf, p) ? TokenStore.read(conf, p, institute)
                : PartitionStore.read(conf, p, institute));
    }

    /** The held-out test set at {@code location}: images or token sequences, as prepared. */
    static Samples readTest(Configuration conf, String location) {
        Path p = new Path(location);
        return PartitionStore.holdsTokens(conf, p) ? TokenStore.readTest(conf, p) : PartitionStore.readTest(conf, p);
    }

    /**
     * Checks, from the location's summary alone (no data is opened), that {@code location} holds a complete share
     * of {@code institute} of the kind the experiment trains on, prepared with the experiment's values of the keys
     * prepare applies, and for text that its sequences fit the model.
     */
    static void requirePrepared(Configuration conf, String location, String institute, Experiment e) {
        Path p = new Path(location);
        if (!e.data().isText()) {
            PartitionStore.requirePrepared(conf, p, institute);
            PrepareJob.requireSameKeys(conf, location, e);
            return;
        }
        TokenStore.Info info = TokenStore.requirePrepared(conf, p, institute);
        if (info.context() != e.data().context()) {
            throw new DataException(location + " holds sequences of context " + info.context() + " but data.context = "
                    + e.data().context() + "; run prepare again with the experiment's data.context");
        }
        if (info.vocab() != e.model().classes()) {
            throw new DataException(location + " was tokenized with '" + info.tokenizer() + "' (vocabulary " + info.vocab()
                    + ") but data.tokenizer = '" + e.data().tokenizer() + "' has vocabulary " + e.model().classes()
                    + "; run prepare again with the experiment's tokenizer");
        }
        PrepareJob.requireSameKeys(conf, location, e);
    }

    int size() {
        return images.size();
    }

    /** One local epoch: minibatches of sample indices in an order drawn from {@code rng}; the last may be smaller. */
    int[][] epoch(int batchSize, Random rng) {
        int n = images.size();
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        int[][] batches = new int[(n + batchSize - 1) / batchSize][];
        for (int b = 0; b < batches.length; b++) {
            batches[b] = java.util.Arrays.copyOfRange(order, b * batchSize, Math.min(n, (b + 1) * batchSize));
        }
        return batches;
    }

    Batch batch(int[] indices) {
        return new Batch(images.features(indices), images.labels(indices));
    }
}
