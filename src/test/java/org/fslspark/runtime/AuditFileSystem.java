package org.fslspark.runtime;

import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.spark.TaskContext;

import java.io.IOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;

/**
 * The local file system under the scheme {@code audit://}, recording who opens each file: the
 * driver (no Spark task on the thread) or the task with its stage and partition. An observer
 * independent of the runtime's own checks.
 */
public class AuditFileSystem extends RawLocalFileSystem {
    /** One open: the path, and the task's partition (-1 on the driver). */
    public record Open(String path, int partition) {
    }

    static final List<Open> OPENS = new ArrayList<>();

    @Override
    public URI getUri() {
        return URI.create("audit:///");
    }

    @Override
    public FSDataInputStream open(Path f, int bufferSize) throws IOException {
        TaskContext task = TaskContext.get();
        synchronized (OPENS) {
            OPENS.add(new Open(f.toUri().getPath(), task == null ? -1 : task.partitionId()));
        }
        return super.open(f, bufferSize);
    }

    @Override
    public File pathToFile(Path path) {
        return new File(path.toUri().getPath());
    }

    private static final class File extends java.io.File {
        File(String path) {
            super(path);
        }
    }
}
