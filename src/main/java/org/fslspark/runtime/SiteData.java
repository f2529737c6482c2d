package org.fslspark.runtime;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.fslspark.algorithm.Batch;
import org.fslspark.data.LabeledImages;
import org.fslspark.data.PartitionStore;

import java.util.Map;
import java.util.Random;

/** A client's private partition, read only inside that institute's own task. */
final class SiteData {
    private final LabeledImages images;

    private SiteData(LabeledImages images) {
        this.images = images;
    }

    static Configuration hadoopConf(Map<String, String> props) {
        Configuration conf = new Configuration();
        props.forEach(conf::set);
        return conf;
    }

    /** Reads the partition at {@code location}; the store refuses it unless it belongs to {@code institute}. */
    static SiteData read(Map<String, String> hadoopConf, String location, String institute) {
        return new SiteData(PartitionStore.read(hadoopConf(hadoopConf), new Path(location), institute));
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
