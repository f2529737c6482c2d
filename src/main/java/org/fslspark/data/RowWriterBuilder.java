package org.fslspark.data;

import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.api.WriteSupport;
import org.apache.parquet.io.OutputFile;

/**
 * A Parquet writer whose records are row indices into data the {@link WriteSupport} holds: the
 * partition stores write images and token sequences this way, without a record object per row.
 */
final class RowWriterBuilder extends ParquetWriter.Builder<Integer, RowWriterBuilder> {
    private final WriteSupport<Integer> support;

    RowWriterBuilder(OutputFile file, WriteSupport<Integer> support) {
        super(file);
        this.support = support;
    }

    @Override
    protected RowWriterBuilder self() {
        return this;
    }

    @Override
    protected WriteSupport<Integer> getWriteSupport(Configuration conf) {
        return support;
    }
}
