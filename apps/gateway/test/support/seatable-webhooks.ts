import { apiClient } from './http.js';

/** The data of a SeaTable `modify_row` webhook, as SeaTable sends it. */
export const seatableRowData = {
  dtable_uuid: 'fae0a3a42ba94df88e8303fd385e37de',
  row_id: 'QoNno3QiTF26sxmG1sl3_g',
  op_user: 'a1b2@auth.local',
  op_type: 'modify_row',
  op_time: 1649922777.279,
  table_id: '0000',
  table_name: 'Tâches',
  row_name: 'Zoë',
  row_data: [
    {
      column_key: '0000',
      column_name: 'Nom',
      column_type: 'text',
      column_data: {},
      value: 'Zoë',
      old_value: 'Zoe',
    },
  ],
  op_app: null,
};

/** POSTs raw bytes to an (absolute) ingest URL, as a provider does. */
export const postWebhook = (url: string, body: string | Uint8Array, headers: Record<string, string>) =>
  apiClient('')('POST', url, { rawBody: body, headers });
