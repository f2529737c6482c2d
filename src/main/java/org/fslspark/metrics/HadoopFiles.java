package org.fslspark.metrics;

import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileContext;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Options;
import org.apache.hadoop.fs.Path;

import java.io.IOException;

/** Writing files through the Hadoop FileSystem API so that a reader never sees half of one. */
public final class HadoopFiles {
    private HadoopFiles() {
    }

    public static void write(FileSystem fs, Path path, byte[] bytes) throws IOException {
        try (FSDataOutputStream out = fs.create(path, true)) {
            out.write(bytes);
        }
    }

    /**
     * Replaces {@code path} with {@code bytes} atomically: written beside it under a temporary name, then
     * renamed over it (FileContext's rename with OVERWRITE is one atomic step on HDFS and local files).
     */
    public static void replace(FileSystem fs, Path path, byte[] bytes) throws IOException {
        Path tmp = new Path(path.getParent(), "." + path.getName() + ".tmp");
        write(fs, tmp, bytes);
        FileContext.getFileContext(fs.getUri(), fs.getConf()).rename(tmp, path, Options.Rename.OVERWRITE);
    }
}
