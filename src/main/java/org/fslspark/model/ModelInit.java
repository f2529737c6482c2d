package org.fslspark.model;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.Path;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.IOException;
import java.io.Serializable;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Where a run's model starts: from scratch (the zoo's seeded initialisation), from a checkpoint
 * (every parameter trains), or from a checkpoint's frozen weights with LoRA adapters. Small and
 * serializable: each task builds its own model from it.
 *
 * <p>Under LoRA only the adapters travel (the networks' flat vectors are the adapters), so every
 * site needs the frozen base itself: each executor reads it from the checkpoint's Hadoop path once
 * and keeps it for the JVM's life ({@link #base}). The checkpoint must therefore be readable from
 * every site (e.g. on HDFS); its parameters are a released model, not an institute's data.
 *
 * @param checkpoint the checkpoint directory, "" for none
 */
public record ModelInit(String checkpoint, Lora lora) implements Serializable {
    /** Base vectors by checkpoint path and version, read once per JVM. */
    private static final Map<String, float[]> BASES = new ConcurrentHashMap<>();

    public boolean fromCheckpoint() {
        return !checkpoint.isBlank();
    }

    /**
     * The model a site builds for {@code spec}: the zoo's, or under LoRA the adapted one over the
     * checkpoint's frozen weights with seeded adapters. Its flat vectors are what the run trains.
     */
    public SplitModel split(ModelSpec spec, long seed, Configuration conf) {
        return lora.enabled() ? lora.split(spec, base(conf), seed) : ModelZoo.split(spec, seed);
    }

    /** The global model at the start of the run: as {@link #split}, with a checkpoint's weights when fine-tuning all of them. */
    public SplitModel initial(ModelSpec spec, long seed, Configuration conf) {
        SplitModel m = split(spec, seed, conf);
        if (fromCheckpoint() && !lora.enabled()) {
            m.setFullParams(base(conf));
        }
        return m;
    }

    /**
     * The zoo model's full vector for what a run trained ({@code trained}: client then server
     * vectors): itself, or under LoRA the base with the adapters merged in, so the result loads as
     * an ordinary checkpoint.
     */
    public INDArray merged(ModelSpec spec, INDArray trained, Configuration conf) {
        return lora.enabled() ? lora.merge(spec, base(conf), trained) : trained;
    }

    /** The checkpoint's parameters [1, n], read through Hadoop once per JVM and version of the file. */
    INDArray base(Configuration conf) {
        Path params = new Path(checkpoint, Checkpoint.PARAMS);
        String key;
        try {
            FileStatus s = params.getFileSystem(conf).getFileStatus(params);
            key = s.getPath() + "@" + s.getModificationTime() + "/" + s.getLen();
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the checkpoint " + checkpoint + ": " + e.getMessage(), e);
        }
        float[] values = BASES.computeIfAbsent(key, k -> Checkpoint.read(checkpoint, conf).params().data().asFloat());
        return Nd4j.create(values, new long[]{1, values.length}, 'c');
    }
}
