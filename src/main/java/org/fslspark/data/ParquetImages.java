package org.fslspark.data;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.column.page.PageReadStore;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.convert.GroupRecordConverter;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.ParquetFileWriter;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.api.WriteSupport;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.parquet.hadoop.util.HadoopOutputFile;
import org.apache.parquet.io.ColumnIOFactory;
import org.apache.parquet.io.MessageColumnIO;
import org.apache.parquet.io.OutputFile;
import org.apache.parquet.io.RecordReader;
import org.apache.parquet.io.api.Binary;
import org.apache.parquet.io.api.RecordConsumer;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;
import org.apache.parquet.schema.PrimitiveType;
import org.apache.parquet.schema.PrimitiveType.PrimitiveTypeName;
import org.apache.parquet.schema.Type;

import java.io.Closeable;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Image datasets as Parquet, read and written with parquet-hadoop directly so that a client task on an
 * executor can load its partition without Spark SQL. Columns (data-schemas/image-partition.md):
 * {@code sample_id int64, label int32, image binary} (uint8 CHW), plus a string column naming the institute in
 * sources partitioned by column. Image shape and class count travel in the file's key-value metadata.
 */
public final class ParquetImages {
    public static final String SAMPLE_ID = "sample_id";
    public static final String LABEL = "label";
    public static final String IMAGE = "image";
    /** Default name of the column that assigns samples to institutes in a source partitioned by column. */
    public static final String INSTITUTE = "institute";

    /** Key-value metadata keys. */
    public static final String META_INSTITUTE = "institute";
    public static final String META_DATASET = "dataset";
    public static final String META_CHANNELS = "channels";
    public static final String META_HEIGHT = "height";
    public static final String META_WIDTH = "width";
    public static final String META_CLASSES = "classes";
    public static final String META_FORMAT_VERSION = "format_version";
    static final String FORMAT_VERSION = "1";

    private ParquetImages() {
    }

    /** The schema of a partition file, or of a source file when {@code instituteColumn} is not null. */
    public static MessageType schema(String instituteColumn) {
        return MessageTypeParser.parseMessageType("message image_partition {\n"
                + "  required int64 " + SAMPLE_ID + ";\n"
                + "  required int32 " + LABEL + ";\n"
                + "  required binary " + IMAGE + ";\n"
                + (instituteColumn == null ? "" : "  required binary " + instituteColumn + " (STRING);\n")
                + "}");
    }

    /** Metadata describing {@code data}: shape and classes, plus the given dataset name and institute. */
    public static Map<String, String> metadata(LabeledImages data, String dataset, String institute) {
        Map<String, String> m = new LinkedHashMap<>();
        if (institute != null) {
            m.put(META_INSTITUTE, institute);
        }
        m.put(META_DATASET, dataset);
        m.put(META_CHANNELS, Integer.toString(data.channels()));
        m.put(META_HEIGHT, Integer.toString(data.height()));
        m.put(META_WIDTH, Integer.toString(data.width()));
        m.put(META_CLASSES, Integer.toString(data.classes()));
        m.put(META_FORMAT_VERSION, FORMAT_VERSION);
        return m;
    }

    /**
     * Writes {@code data} as one new Parquet file (fails if it exists).
     *
     * @param institutes per-sample institute names written to {@code instituteColumn}, or null for none
     */
    public static void write(Configuration conf, Path file, LabeledImages data, Map<String, String> metadata,
                             String instituteColumn, String[] institutes) throws IOException {
        if ((instituteColumn == null) != (institutes == null)) {
            throw new IllegalArgumentException("give both the institute column and its values, or neither");
        }
        if (institutes != null && institutes.length != data.size()) {
            throw new IllegalArgumentException(institutes.length + " institute names for " + data.size() + " samples");
        }
        Support support = new Support(data, schema(instituteColumn), metadata, institutes);
        try (ParquetWriter<Integer> w = new RowWriterBuilder(HadoopOutputFile.fromPath(file, conf), support)
                .withConf(conf)
                .withWriteMode(ParquetFileWriter.Mode.CREATE)
                .withCompressionCodec(CompressionCodecName.SNAPPY)
                .build()) {
            for (int i = 0; i < data.size(); i++) {
                w.write(i);
            }
        }
    }

    /** One open Parquet file: its footer is read; rows are read only when asked. */
    static final class FileHandle implements Closeable {
        final String name;
        final ParquetFileReader reader;
        final Map<String, String> meta;
        final long rows;

        FileHandle(Configuration conf, Path file) {
            this.name = DataFiles.qualified(conf, file);
            try {
                FileSystem fs = file.getFileSystem(conf);
                if (!fs.exists(file)) {
                    throw new DataException(name + ": file not found");
                }
                this.reader = ParquetFileReader.open(HadoopInputFile.fromPath(file, conf));
            } catch (IOException | RuntimeException e) {
                if (e instanceof DataException d) {
                    throw d;
                }
                throw new DataException(name + ": not a readable Parquet file (" + e.getMessage() + ")", e);
            }
            this.meta = reader.getFooter().getFileMetaData().getKeyValueMetaData();
            this.rows = reader.getRecordCount();
        }

        MessageType fileSchema() {
            return reader.getFooter().getFileMetaData().getSchema();
        }

        /** A positive integer from the metadata, or -1 when the key is absent. */
        int metaInt(String key) {
            String v = meta.get(key);
            if (v == null) {
                return -1;
            }
            try {
                int x = Integer.parseInt(v.trim());
                if (x < 1) {
                    throw new NumberFormatException();
                }
                return x;
            } catch (NumberFormatException e) {
                throw new DataException(name + ": metadata " + key + " = '" + v + "' is not a positive integer");
            }
        }

        /** The shape recorded in the metadata, or null when it records none. */
        ImageShape shape() {
            int c = metaInt(META_CHANNELS);
            int h = metaInt(META_HEIGHT);
            int w = metaInt(META_WIDTH);
            return c < 0 || h < 0 || w < 0 ? null : new ImageShape(c, h, w);
        }

        /**
         * Reads all rows into {@code into} starting at row {@code start}.
         *
         * @param instituteColumn the column to read into {@code into.institutes}, or null
         */
        void readRows(Accumulator into, int start, String instituteColumn) {
            MessageType file = fileSchema();
            List<Type> fields = new ArrayList<>();
            boolean hasId = file.containsField(SAMPLE_ID);
            if (hasId) {
                fields.add(column(file, SAMPLE_ID, PrimitiveTypeName.INT64, PrimitiveTypeName.INT32));
            }
            fields.add(column(file, LABEL, PrimitiveTypeName.INT32, PrimitiveTypeName.INT64));
            fields.add(column(file, IMAGE, PrimitiveTypeName.BINARY));
            if (instituteColumn != null) {
                fields.add(column(file, instituteColumn, PrimitiveTypeName.BINARY));
            }
            MessageType requested = new MessageType(file.getName(), fields);
            reader.setRequestedSchema(requested);
            MessageColumnIO io = new ColumnIOFactory().getColumnIO(requested, file);
            int s = into.shape.bytes();
            int row = start;
            try {
                PageReadStore pages;
                while ((pages = reader.readNextRowGroup()) != null) {
                    RecordReader<Group> records = io.getRecordReader(pages, new GroupRecordConverter(requested));
                    for (long r = 0; r < pages.getRowCount(); r++, row++) {
                        Group g = records.read();
                        int local = row - start;
                        into.ids[row] = hasId ? number(g, SAMPLE_ID, local) : row;
                        long label = number(g, LABEL, local);
                        if (label < 0 || label >= into.classes) {
                            throw new DataException(name + ": label " + label + " at index " + local
                                    + " is out of range [0, " + into.classes + ")");
                        }
                        into.labels[row] = (int) label;
                        Binary image = value(g, IMAGE, local).getBinary(IMAGE, 0);
                        if (image.length() != s) {
                            throw new DataException(name + ": image at index " + local + " has " + image.length()
                                    + " bytes, expected " + s + " for shape " + into.shape);
                        }
                        image.toByteBuffer().get(into.pixels, row * s, s);
                        if (instituteColumn != null) {
                            into.institutes[row] = value(g, instituteColumn, local).getString(instituteColumn, 0);
                        }
                    }
                }
            } catch (IOException | org.apache.parquet.io.ParquetDecodingException e) {
                throw new DataException(name + ": corrupt Parquet data (" + e.getMessage() + ")", e);
            }
        }

        private Type column(MessageType file, String field, PrimitiveTypeName... accepted) {
            if (!file.containsField(field)) {
                throw new DataException(name + ": no column '" + field + "'; expected columns "
                        + SAMPLE_ID + " int64, " + LABEL + " int32, " + IMAGE + " binary (see data-schemas/), found "
                        + file.getFields().stream().map(Type::getName).toList());
            }
            Type t = file.getType(field);
            if (!t.isPrimitive() || !Arrays.asList(accepted).contains(t.asPrimitiveType().getPrimitiveTypeName())
                    || t.isRepetition(Type.Repetition.REPEATED)) {
                throw new DataException(name + ": column '" + field + "' has type " + t
                        + ", expected " + accepted[0].name().toLowerCase());
            }
            return t;
        }

        private Group value(Group g, String field, int row) {
            if (g.getFieldRepetitionCount(field) == 0) {
                throw new DataException(name + ": column '" + field + "' is null at index " + row);
            }
            return g;
        }

        private long number(Group g, String field, int row) {
            value(g, field, row);
            PrimitiveType t = g.getType().getType(field).asPrimitiveType();
            return t.getPrimitiveTypeName() == PrimitiveTypeName.INT64 ? g.getLong(field, 0) : g.getInteger(field, 0);
        }

        @Override
        public void close() {
            try {
                reader.close();
            } catch (IOException ignored) {
                // Read-only: nothing is lost if closing fails.
            }
        }
    }

    /** Preallocated arrays that rows from several files are read into. */
    static final class Accumulator {
        final ImageShape shape;
        final int classes;
        final long[] ids;
        final int[] labels;
        final byte[] pixels;
        final String[] institutes;

        Accumulator(ImageShape shape, int classes, long rows, boolean withInstitutes, String what) {
            if (rows * shape.bytes() > Integer.MAX_VALUE - 8) {
                throw new DataException(what + ": " + rows + " images of shape " + shape
                        + " do not fit in one in-memory dataset");
            }
            this.shape = shape;
            this.classes = classes;
            this.ids = new long[(int) rows];
            this.labels = new int[(int) rows];
            this.pixels = new byte[(int) rows * shape.bytes()];
            this.institutes = withInstitutes ? new String[(int) rows] : null;
        }

        LabeledImages images() {
            return new LabeledImages(shape.channels(), shape.height(), shape.width(), classes, pixels, labels, ids);
        }
    }

    /** What {@link #read} returns: the images and, when a column was asked for, each sample's institute. */
    public record Loaded(LabeledImages images, String[] institutes) {
    }

    /**
     * Reads a Parquet image dataset: files, or directories whose {@code *.parquet} files (not starting with
     * {@code _} or {@code .}) are read in name order, as Spark writes them.
     *
     * @param classes         the number of classes, or 0 to take it from the files' metadata
     * @param shape           the image shape when the files' metadata records none (e.g. written by Spark), else null
     * @param instituteColumn a string column to return per sample, or null
     */
    public static Loaded read(Configuration conf, List<Path> paths, int classes, ImageShape shape, String instituteColumn) {
        List<Path> files = expand(conf, paths);
        List<FileHandle> handles = new ArrayList<>();
        try {
            long rows = 0;
            for (Path f : files) {
                FileHandle h = new FileHandle(conf, f);
                handles.add(h);
                rows += h.rows;
                ImageShape s = h.shape();
                if (s != null && shape != null && !s.equals(shape)) {
                    throw new DataException(h.name + ": image shape " + s + " differs from " + shape
                            + (handles.size() > 1 ? " of " + handles.get(0).name : ""));
                }
                if (shape == null) {
                    shape = s;
                }
                int c = h.metaInt(META_CLASSES);
                if (classes <= 0) {
                    classes = c;
                }
            }
            String what = handles.get(0).name + (handles.size() > 1 ? " and " + (handles.size() - 1) + " more" : "");
            if (shape == null) {
                throw new DataException(what + ": no image shape in the file metadata (keys channels, height, width);"
                        + " give the shape (data.input-shape)");
            }
            if (classes <= 0) {
                throw new DataException(what + ": no class count in the file metadata (key classes); give data.classes");
            }
            Accumulator acc = new Accumulator(shape, classes, rows, instituteColumn != null, what);
            int start = 0;
            for (FileHandle h : handles) {
                h.readRows(acc, start, instituteColumn);
                start += (int) h.rows;
            }
            return new Loaded(acc.images(), acc.institutes);
        } finally {
            handles.forEach(FileHandle::close);
        }
    }

    /** Files as given, directories replaced by their Parquet data files. */
    static List<Path> expand(Configuration conf, List<Path> paths) {
        if (paths.isEmpty()) {
            throw new DataException("no Parquet source files given");
        }
        List<Path> files = new ArrayList<>();
        for (Path p : paths) {
            String name = DataFiles.qualified(conf, p);
            try {
                FileSystem fs = p.getFileSystem(conf);
                if (!fs.exists(p)) {
                    throw new DataException(name + ": file not found");
                }
                if (!fs.getFileStatus(p).isDirectory()) {
                    files.add(p);
                    continue;
                }
                List<Path> inDir = new ArrayList<>();
                for (FileStatus st : fs.listStatus(p)) {
                    String n = st.getPath().getName();
                    if (st.isFile() && n.endsWith(".parquet") && !n.startsWith("_") && !n.startsWith(".")) {
                        inDir.add(st.getPath());
                    }
                }
                if (inDir.isEmpty()) {
                    throw new DataException(name + ": directory holds no .parquet files");
                }
                inDir.sort(null);
                files.addAll(inDir);
            } catch (IOException e) {
                throw new DataException(name + ": cannot list: " + e, e);
            }
        }
        return files;
    }

    /** Writes one record per sample index. */
    private static final class Support extends WriteSupport<Integer> {
        private final LabeledImages data;
        private final MessageType schema;
        private final Map<String, String> metadata;
        private final String[] institutes;
        private RecordConsumer out;

        Support(LabeledImages data, MessageType schema, Map<String, String> metadata, String[] institutes) {
            this.data = data;
            this.schema = schema;
            this.metadata = metadata;
            this.institutes = institutes;
        }

        @Override
        public WriteContext init(Configuration configuration) {
            return new WriteContext(schema, metadata);
        }

        @Override
        public void prepareForWrite(RecordConsumer recordConsumer) {
            this.out = recordConsumer;
        }

        @Override
        public void write(Integer i) {
            int s = data.sampleBytes();
            out.startMessage();
            out.startField(SAMPLE_ID, 0);
            out.addLong(data.sampleIds()[i]);
            out.endField(SAMPLE_ID, 0);
            out.startField(LABEL, 1);
            out.addInteger(data.labels()[i]);
            out.endField(LABEL, 1);
            out.startField(IMAGE, 2);
            out.addBinary(Binary.fromConstantByteArray(data.pixels(), i * s, s));
            out.endField(IMAGE, 2);
            if (institutes != null) {
                String col = schema.getType(3).getName();
                out.startField(col, 3);
                out.addBinary(Binary.fromString(institutes[i]));
                out.endField(col, 3);
            }
            out.endMessage();
        }
    }
}
