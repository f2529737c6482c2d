package org.fslspark.data;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import java.io.BufferedInputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Opening source files through the Hadoop FileSystem API, with gzip detected by its magic bytes (names lie:
 * a downloaded {@code .gz} is often already unpacked by the browser) and I/O failures turned into
 * {@link DataException}s that name the file.
 */
final class DataFiles {
    private DataFiles() {
    }

    /** An open, possibly decompressing, source file. */
    static final class Source implements Closeable {
        final String name;
        final boolean gzip;
        private final InputStream in;

        private Source(String name, boolean gzip, InputStream in) {
            this.name = name;
            this.gzip = gzip;
            this.in = in;
        }

        /**
         * Reads exactly {@code buf.length} bytes.
         *
         * @param what what the bytes are, for the message when the file ends early
         */
        void readFully(byte[] buf, String what) {
            int off = 0;
            try {
                while (off < buf.length) {
                    int r = in.read(buf, off, buf.length - off);
                    if (r < 0) {
                        throw new DataException(name + ": truncated file: it ends after " + off + " of the "
                                + buf.length + " bytes of " + what);
                    }
                    off += r;
                }
            } catch (IOException e) {
                throw failure(e, what);
            }
        }

        /** Reads to the end, returning the count; for gzip this also verifies the trailer's CRC and length. */
        long drain() {
            byte[] buf = new byte[1 << 16];
            long n = 0;
            try {
                for (int r; (r = in.read(buf)) >= 0; ) {
                    n += r;
                }
            } catch (IOException e) {
                throw failure(e, "the end of the file");
            }
            return n;
        }

        /** The whole (decompressed) content. */
        byte[] readAll() {
            try {
                return in.readAllBytes();
            } catch (IOException e) {
                throw failure(e, "the file");
            }
        }

        private DataException failure(IOException e, String what) {
            if (gzip && e instanceof EOFException) {
                return new DataException(name + ": truncated gzip stream while reading " + what + " (" + e.getMessage() + ")", e);
            }
            if (gzip && e instanceof ZipException) {
                return new DataException(name + ": corrupt gzip data while reading " + what + " (" + e.getMessage() + ")", e);
            }
            return new DataException(name + ": cannot read " + what + ": " + e, e);
        }

        @Override
        public void close() {
            try {
                in.close();
            } catch (IOException ignored) {
                // Read-only stream: nothing is lost if closing fails.
            }
        }
    }

    /** Opens {@code path}, decompressing when it starts with the gzip magic bytes 1f 8b. */
    static Source open(Configuration conf, Path path) {
        String name = qualified(conf, path);
        InputStream raw;
        try {
            FileSystem fs = path.getFileSystem(conf);
            if (!fs.exists(path)) {
                throw new DataException(name + ": file not found");
            }
            if (fs.getFileStatus(path).isDirectory()) {
                throw new DataException(name + ": is a directory, expected a file");
            }
            raw = new BufferedInputStream(fs.open(path), 1 << 16);
        } catch (FileNotFoundException e) {
            throw new DataException(name + ": file not found", e);
        } catch (IOException e) {
            throw new DataException(name + ": cannot open: " + e, e);
        }
        try {
            raw.mark(2);
            int b0 = raw.read();
            int b1 = raw.read();
            raw.reset();
            if (b0 == 0x1f && b1 == 0x8b) {
                return new Source(name, true, new BufferedInputStream(new GZIPInputStream(raw, 1 << 16), 1 << 16));
            }
            return new Source(name, false, raw);
        } catch (IOException e) {
            try {
                raw.close();
            } catch (IOException ignored) {
                // Already failing; the first error is the one to report.
            }
            if (e instanceof EOFException) {
                throw new DataException(name + ": truncated gzip stream: it ends inside the gzip header", e);
            }
            throw new DataException(name + ": corrupt gzip header (" + e.getMessage() + ")", e);
        }
    }

    /** The path with scheme and authority, as users should see it in messages. */
    static String qualified(Configuration conf, Path path) {
        try {
            return path.getFileSystem(conf).makeQualified(path).toString();
        } catch (IOException | RuntimeException e) {
            return path.toString();
        }
    }
}
