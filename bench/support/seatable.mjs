/** SeaTable webhook bodies (`{"event":"update","data":{…}}`), as SeaTable posts them for a row change. */
export function seatableBody(rowId, opType = 'modify_row', opTime = Date.now() / 1000) {
  return JSON.stringify({
    event: 'update',
    data: {
      dtable_uuid: 'fae0a3a42ba94df88e8303fd385e37de',
      row_id: rowId,
      op_user: 'bench@auth.local',
      op_type: opType,
      op_time: opTime,
      table_id: '0000',
      table_name: 'Bench',
      row_name: `row ${rowId}`,
      row_data: [
        {
          column_key: '0000',
          column_name: 'Name',
          column_type: 'text',
          value: `v ${rowId}`,
          old_value: 'old',
        },
      ],
      op_app: null,
    },
  });
}

/** A body whose row id autocannon replaces per request, so SeaTable's dedup key differs every time. */
export const seatableTemplate = () => seatableBody('[<id>]', 'modify_row', Date.now() / 1000);

/** The row id the bench put into a body, read back from a Herald envelope or a baseline broadcast. */
export const rowIdOf = (event) => event.subject.slice(event.subject.lastIndexOf('/') + 1);
